"""Hidden tests for ip-adapter-attention: inputs come from the run's secret seed."""

import pytest
import torch

LAYER = dict(rtol=1e-5, atol=1e-5)
UNET = dict(rtol=1e-5, atol=1e-4)


def _scale(seed, low=0.3, high=1.2):
    return low + (high - low) * (seed % 1000) / 1000


@pytest.mark.points(2)
def test_several_images_per_adapter(equivalence, probes, hidden_seed):
    equivalence.check("attention_layer", **LAYER, seed=hidden_seed % 997, scales=[_scale(hidden_seed), 0.5],
                      **probes.layer_inputs(hidden_seed, tokens=(4, 2), images=2))


@pytest.mark.points(2)
def test_text_mask_spares_image_tokens(equivalence, probes, hidden_seed):
    inputs = probes.layer_inputs(hidden_seed)
    mask = torch.zeros(2, 1, probes.TEXT_TOKENS)
    # Hide the last one to three text tokens: a mask reused on the image tokens would then be partial there.
    mask[:, :, 4 + hidden_seed % 3:] = -10000.0
    equivalence.check("attention_layer", **LAYER, seed=hidden_seed % 991, scales=[_scale(hidden_seed)],
                      attention_mask=mask, **inputs)


@pytest.mark.points(2)
def test_spatial_input_residual_and_rescale(equivalence, probes, hidden_seed):
    equivalence.check("attention_layer", **LAYER, seed=hidden_seed % 983, scales=[_scale(hidden_seed)],
                      residual_connection=True, rescale_output_factor=2.0,
                      **probes.layer_inputs(hidden_seed, spatial=True))


@pytest.mark.points(1)
def test_zero_scale_switches_an_adapter_off(equivalence, probes, hidden_seed):
    equivalence.check("attention_layer", **LAYER, seed=hidden_seed % 977, scales=[0.0, _scale(hidden_seed)],
                      **probes.layer_inputs(hidden_seed, tokens=(4, 4)))


@pytest.mark.points(3)
def test_tiny_unet_with_two_adapters(equivalence, probes, hidden_seed):
    equivalence.check("unet_with_adapters", **UNET, seed=hidden_seed % 971,
                      scales=[_scale(hidden_seed), _scale(hidden_seed // 7)], timestep=1 + hidden_seed % 999,
                      tokens=[4, 2], **probes.unet_inputs(hidden_seed, adapters=2, images=2))
