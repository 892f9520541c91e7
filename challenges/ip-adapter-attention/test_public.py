"""Public tests for ip-adapter-attention: run them with `diffchallenge test`."""

import pytest

# One layer: a float64 computation differs from IPAdapterAttnProcessor2_0 by at most 5.4e-7 on |x| <= 2
# (measured over the module options and shapes graded), 1/20 of this tolerance.
LAYER = dict(rtol=1e-5, atol=1e-5)
# The whole tiny UNet: a float64 computation differs by at most 9.2e-7 on |x| <= 1.4; room for a hand-written
# softmax whose rounding the UNet's later layers carry on.
UNET = dict(rtol=1e-5, atol=1e-4)


@pytest.mark.points(2)
@pytest.mark.covers("adapters", "text-attention", "image-attention", "scale")
@pytest.mark.parametrize("scale", [1.0, 0.4], ids=str)
def test_one_adapter(equivalence, probes, scale):
    equivalence.check("attention_layer", **LAYER, seed=1, scales=[scale], **probes.layer_inputs(30))


@pytest.mark.points(3)
@pytest.mark.covers("adapters", "image-attention", "scale")
def test_two_adapters(equivalence, probes):
    equivalence.check("attention_layer", **LAYER, seed=2, scales=[0.7, 0.3], **probes.layer_inputs(31, tokens=(4, 2)))


@pytest.mark.points(3)
@pytest.mark.covers("unet")
def test_tiny_unet(equivalence, probes):
    equivalence.check("unet_with_adapters", **UNET, seed=3, scales=[0.6], timestep=400, tokens=[4],
                      **probes.unet_inputs(32))
