"""Hidden tests for ip-adapter-attention: inputs come from the run's secret seed; the branches each test
reaches (shapes, module options, a zero scale, a mask) never depend on it."""

import pytest
import torch

# See test_public.py: a float64 layer differs by at most 5.4e-7, a float64 UNet by at most 9.2e-7.
LAYER = dict(rtol=1e-5, atol=1e-5)
UNET = dict(rtol=1e-5, atol=1e-4)


def _scale(seed, low=0.3, high=1.2):
    """A nonzero scale drawn from the seed."""
    return low + (high - low) * (seed % 1000) / 1000


@pytest.mark.points(2)
@pytest.mark.covers("image-shapes", "image-attention", "scale", "hidden-layouts")
def test_several_images_per_adapter(equivalence, probes, hidden_seed):
    equivalence.check("attention_layer", **LAYER, seed=hidden_seed % 997, scales=[_scale(hidden_seed), 0.5],
                      **probes.layer_inputs(hidden_seed, tokens=(4, 2), images=2))


@pytest.mark.points(1)
@pytest.mark.covers("image-shapes", "image-attention")
def test_image_tokens_without_an_images_axis(equivalence, probes, hidden_seed):
    # each adapter's tokens as (B, tokens, D)
    equivalence.check("attention_layer", **LAYER, seed=hidden_seed % 887, scales=[0.8, _scale(hidden_seed)],
                      **probes.layer_inputs(hidden_seed, tokens=(4, 2), images=None))


@pytest.mark.points(1)
@pytest.mark.covers("scale", "adapters")
def test_one_float_scale_for_every_adapter(equivalence, probes, hidden_seed):
    # scale given as one float for two adapters: self.scale is [scale, scale]
    equivalence.check("attention_layer", **LAYER, seed=hidden_seed % 883, scales=_scale(hidden_seed),
                      **probes.layer_inputs(hidden_seed, tokens=(4, 2)))


@pytest.mark.points(1)
@pytest.mark.covers("adapters", "scale")
def test_default_tokens_and_scale(equivalence, probes, hidden_seed):
    # num_tokens and scale left out: one adapter of 4 tokens, self.scale == [1.0]
    equivalence.check("default_processor", **LAYER, seed=hidden_seed % 881,
                      **probes.layer_inputs(hidden_seed, tokens=(4,)))


@pytest.mark.points(2)
@pytest.mark.covers("text-attention")
def test_text_mask_spares_image_tokens(equivalence, probes, hidden_seed):
    inputs = probes.layer_inputs(hidden_seed)
    mask = torch.zeros(2, 1, probes.TEXT_TOKENS)
    # Hide the last one to three text tokens: a mask reused on the image tokens would then be partial there.
    mask[:, :, 4 + hidden_seed % 3:] = -10000.0
    equivalence.check("attention_layer", **LAYER, seed=hidden_seed % 991, scales=[_scale(hidden_seed)],
                      attention_mask=mask, **inputs)


@pytest.mark.points(2)
@pytest.mark.covers("hidden-layouts", "residual-rescale")
def test_spatial_input_residual_and_rescale(equivalence, probes, hidden_seed):
    # a (B, C, 4, 6) map: not square
    equivalence.check("attention_layer", **LAYER, seed=hidden_seed % 983, scales=[_scale(hidden_seed)],
                      residual_connection=True, rescale_output_factor=2.0,
                      **probes.layer_inputs(hidden_seed, spatial=True, height=4, width=6))


@pytest.mark.points(1)
@pytest.mark.covers("image-attention")
def test_zero_scale_switches_an_adapter_off(equivalence, probes, hidden_seed):
    equivalence.check("attention_layer", **LAYER, seed=hidden_seed % 977, scales=[0.0, _scale(hidden_seed)],
                      **probes.layer_inputs(hidden_seed, tokens=(4, 4)))


@pytest.mark.points(1)
@pytest.mark.covers("image-attention", "scale")
def test_negative_scales_subtract(equivalence, probes, hidden_seed):
    """Scales below zero (-1 among them) weigh the image attention negatively; only zero switches it off."""
    equivalence.check("attention_layer", **LAYER, seed=hidden_seed % 971, scales=[-1.0, -_scale(hidden_seed)],
                      **probes.layer_inputs(hidden_seed, tokens=(4, 2)))


@pytest.mark.points(1)
@pytest.mark.covers("module-norms")
@pytest.mark.parametrize("module", ["group-norm", "spatial-norm", "norm-cross"])
def test_module_norms(equivalence, probes, hidden_seed, module):
    # spatial_norm needs a (B, C, H, W) map and its temb; the others run on tokens
    spatial = module == "spatial-norm"
    extra = dict(temb=probes.spatial_temb(hidden_seed + 7)) if spatial else {}
    equivalence.check("attention_layer", **LAYER, seed=hidden_seed % 881, scales=[_scale(hidden_seed), 0.6],
                      module=module, **extra,
                      **probes.layer_inputs(hidden_seed, tokens=(4, 2), spatial=spatial, height=4, width=6))


@pytest.mark.points(3)
@pytest.mark.covers("unet", "forbidden")
def test_tiny_unet_with_two_adapters(equivalence, probes, hidden_seed):
    equivalence.check("unet_with_adapters", **UNET, seed=hidden_seed % 971,
                      scales=[_scale(hidden_seed), _scale(hidden_seed // 7)], timestep=1 + hidden_seed % 999,
                      tokens=[4, 2], **probes.unet_inputs(hidden_seed, adapters=2, images=2))
