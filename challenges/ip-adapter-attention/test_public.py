"""Public tests for ip-adapter-attention: run them with `diffchallenge test`."""

import pytest

LAYER = dict(rtol=1e-5, atol=1e-5)
UNET = dict(rtol=1e-5, atol=1e-4)


@pytest.mark.points(2)
@pytest.mark.parametrize("scale", [1.0, 0.4], ids=str)
def test_one_adapter(equivalence, probes, scale):
    equivalence.check("attention_layer", **LAYER, seed=1, scales=[scale], **probes.layer_inputs(30))


@pytest.mark.points(3)
def test_two_adapters(equivalence, probes):
    equivalence.check("attention_layer", **LAYER, seed=2, scales=[0.7, 0.3], **probes.layer_inputs(31, tokens=(4, 2)))


@pytest.mark.points(3)
def test_tiny_unet(equivalence, probes):
    equivalence.check("unet_with_adapters", **UNET, seed=3, scales=[0.6], timestep=400, tokens=[4],
                      **probes.unet_inputs(32))
