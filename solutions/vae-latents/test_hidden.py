"""Hidden tests for vae-latents: inputs come from the run's secret seed."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

VAE = dict(rtol=1e-5, atol=1e-5)  # measured 0 for the reference; room for a differently ordered sum
EXACT = dict(rtol=0, atol=0)  # packing and noise move numbers, they compute nothing


@pytest.mark.points(1)
@pytest.mark.parametrize("vae_kind", ["sd", "flux"])
@pytest.mark.covers("scale-factor")
def test_vae_scale_factor_each_vae(equivalence, vae_kind):
    equivalence.check("scale_factor", **EXACT, vae_kind=vae_kind)


@pytest.mark.points(2)
@pytest.mark.covers("encode-sample", "shift-factor")
def test_encode_sample_sd(equivalence, hidden_seed):
    equivalence.check("encode", **VAE, vae_kind="sd", model_seed=hidden_seed % 1000, image_seed=hidden_seed,
                      generator_seeds=hidden_seed + 1)


@pytest.mark.points(2)
@pytest.mark.covers("encode-mode", "shift-factor")
def test_encode_mode_flux_shift(equivalence, hidden_seed):
    equivalence.check("encode", **VAE, vae_kind="flux", model_seed=hidden_seed % 1000, image_seed=hidden_seed,
                      sample=False)


@pytest.mark.points(2)
@pytest.mark.parametrize("vae_kind", ["sd", "flux"])
@pytest.mark.covers("generator-list")
def test_encode_one_generator_per_image(equivalence, hidden_seed, vae_kind):
    equivalence.check("encode", **VAE, vae_kind=vae_kind, model_seed=hidden_seed % 1000, image_seed=hidden_seed,
                      batch_size=3, generator_seeds=[hidden_seed + i for i in range(3)])


@pytest.mark.points(2)
@pytest.mark.covers("decode", "shift-factor")
def test_decode_flux_shift(equivalence, hidden_seed):
    equivalence.check("decode", **VAE, vae_kind="flux", model_seed=hidden_seed % 1000, latent_seed=hidden_seed)


@pytest.mark.points(1)
@pytest.mark.covers("pack")
def test_pack_non_square(equivalence, hidden_seed):
    height, width = 2 * (1 + hidden_seed % 5), 2 * (1 + (hidden_seed // 5) % 5)
    equivalence.check("pack", **EXACT, latents=seeded_randn((2, 4 + hidden_seed % 13, height, width), hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("unpack")
def test_unpack_rounds_pixel_size(equivalence, hidden_seed):
    """Pixel sizes that are not multiples of 2 * vae_scale_factor are rounded down, as Flux does."""
    factor = (2, 4, 8)[hidden_seed % 3]
    height, width = 2 * factor * (2 + hidden_seed % 3) + factor, 2 * factor * (1 + hidden_seed % 4) + 1
    tokens = (height // (2 * factor)) * (width // (2 * factor))
    equivalence.check("unpack", **EXACT, packed=seeded_randn((2, tokens, 64), hidden_seed), height=height,
                      width=width, vae_scale_factor=factor)


@pytest.mark.points(2)
@pytest.mark.parametrize("vae_kind", ["sd", "flux"])
@pytest.mark.covers("prepare-packed")
def test_prepare_packed_latents_any_size(equivalence, hidden_seed, vae_kind):
    equivalence.check("prepare_packed_latents", **EXACT, vae_kind=vae_kind, batch_size=1 + hidden_seed % 3,
                      height=24 + hidden_seed % 21, width=24 + (hidden_seed // 21) % 21, generator_seed=hidden_seed)
