"""Hidden tests for vae-latents: inputs come from the run's secret seed."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

VAE = dict(rtol=1e-5, atol=1e-5)  # measured at most 3.5e-6 for a correct alternative (see test_public.py)
EXACT = dict(rtol=0, atol=0)  # packing and noise move numbers, they compute nothing


@pytest.mark.points(1)
@pytest.mark.covers("scale-factor")
@pytest.mark.parametrize("blocks", [1, 4])
def test_vae_scale_factor_other_depths(equivalence, blocks):
    """1 and 8 pixels per latent: neither the tiny SD VAE's 2 nor the tiny Flux VAE's 4."""
    equivalence.check("scale_factor_of_depth", **EXACT, blocks=blocks)


@pytest.mark.points(2)
@pytest.mark.covers("encode-sample", "latent-scaling", "forbidden")
def test_encode_sample_sd(equivalence, hidden_seed):
    equivalence.check("encode", **VAE, vae_kind="sd", model_seed=hidden_seed % 1000, image_seed=hidden_seed,
                      generator_seeds=hidden_seed + 1, sample=True)


@pytest.mark.points(1)
@pytest.mark.covers("encode-sample")
def test_encode_global_generator(equivalence, hidden_seed):
    """No generator and sample left to its default: the noise comes from torch's global generator, as
    randn_tensor draws it (seeded identically on both sides just before the call)."""
    equivalence.check("encode", **VAE, vae_kind="sd", model_seed=hidden_seed % 1000, image_seed=hidden_seed,
                      global_seed=hidden_seed + 1)


@pytest.mark.points(2)
@pytest.mark.covers("encode-mode", "latent-scaling", "forbidden")
def test_encode_mode_flux_shift(equivalence, hidden_seed):
    equivalence.check("encode", **VAE, vae_kind="flux", model_seed=hidden_seed % 1000, image_seed=hidden_seed,
                      sample=False)


@pytest.mark.points(2)
@pytest.mark.covers("encode-generator-list")
@pytest.mark.parametrize("vae_kind", ["sd", "flux"])
def test_encode_one_generator_per_image(equivalence, hidden_seed, vae_kind):
    # a batch of 4, not 3: the images' batch size and their channel count must not coincide
    equivalence.check("encode", **VAE, vae_kind=vae_kind, model_seed=hidden_seed % 1000, image_seed=hidden_seed,
                      batch_size=4, generator_seeds=[hidden_seed + i for i in range(4)])


@pytest.mark.points(1)
@pytest.mark.covers("non-square", "encode-sample")
@pytest.mark.parametrize("vae_kind", ["sd", "flux"])
def test_encode_non_square(equivalence, hidden_seed, vae_kind):
    equivalence.check("encode", **VAE, vae_kind=vae_kind, model_seed=hidden_seed % 1000, image_seed=hidden_seed,
                      generator_seeds=hidden_seed + 1, height=48, width=32)


@pytest.mark.points(2)
@pytest.mark.covers("decode", "latent-scaling")
def test_decode_flux_shift(equivalence, hidden_seed):
    equivalence.check("decode", **VAE, vae_kind="flux", model_seed=hidden_seed % 1000, latent_seed=hidden_seed)


@pytest.mark.points(1)
@pytest.mark.covers("non-square", "decode")
@pytest.mark.parametrize("vae_kind", ["sd", "flux"])
def test_decode_non_square(equivalence, hidden_seed, vae_kind):
    equivalence.check("decode", **VAE, vae_kind=vae_kind, model_seed=hidden_seed % 1000, latent_seed=hidden_seed,
                      height=32, width=48)


@pytest.mark.points(1)
@pytest.mark.covers("pack", "forbidden")
def test_pack_non_square(equivalence, hidden_seed):
    height = 2 * (1 + hidden_seed % 5)
    width = height + 2 * (1 + (hidden_seed // 5) % 4)  # never square
    equivalence.check("pack", **EXACT, latents=seeded_randn((2, 4 + hidden_seed % 13, height, width), hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("unpack", "forbidden")
def test_unpack_rounds_pixel_size(equivalence, hidden_seed):
    """Pixel sizes that are not multiples of 2 * vae_scale_factor are rounded down, as Flux does."""
    factor = (2, 4, 8)[hidden_seed % 3]
    height, width = 2 * factor * (2 + hidden_seed % 3) + factor, 2 * factor * (1 + hidden_seed % 4) + 1
    tokens = (height // (2 * factor)) * (width // (2 * factor))
    equivalence.check("unpack", **EXACT, packed=seeded_randn((2, tokens, 64), hidden_seed), height=height,
                      width=width, vae_scale_factor=factor)


@pytest.mark.points(1)
@pytest.mark.covers("unpack")
def test_unpack_exact_non_square_sizes(equivalence, hidden_seed):
    """Pixel sizes that are already multiples of 2 * vae_scale_factor, height != width."""
    factor = (2, 4, 8)[hidden_seed % 3]
    rows, columns = 1 + hidden_seed % 4, 5 + hidden_seed % 3
    equivalence.check("unpack", **EXACT, packed=seeded_randn((2, rows * columns, 4 * (1 + hidden_seed % 16)),
                                                             hidden_seed),
                      height=2 * factor * rows, width=2 * factor * columns, vae_scale_factor=factor)


@pytest.mark.points(2)
@pytest.mark.covers("prepare-noise", "non-square")
@pytest.mark.parametrize("vae_kind", ["sd", "flux"])
def test_prepare_packed_latents_any_size(equivalence, hidden_seed, vae_kind):
    """Pixel sizes to round down (never multiples of 2 * vae_scale_factor), height > width."""
    step = {"sd": 4, "flux": 8}[vae_kind]  # 2 * vae_scale_factor
    height = step * (4 + hidden_seed % 3) + 1 + hidden_seed % (step - 1)
    width = step * (1 + (hidden_seed // 3) % 3) + 1 + (hidden_seed // 9) % (step - 1)
    equivalence.check("prepare_packed_latents", **EXACT, vae_kind=vae_kind, batch_size=1 + hidden_seed % 3,
                      height=height, width=width, generator_seed=hidden_seed)


@pytest.mark.points(1)
@pytest.mark.covers("prepare-noise")
def test_prepare_packed_latents_one_generator_per_image(equivalence, hidden_seed):
    equivalence.check("prepare_packed_latents", **EXACT, vae_kind="flux", batch_size=3, height=32, width=48,
                      generator_seed=[hidden_seed + i for i in range(3)])


@pytest.mark.points(1)
@pytest.mark.covers("prepare-noise")
def test_prepare_packed_latents_global_generator(equivalence, hidden_seed):
    """No generator: torch's global generator, seeded identically on both sides just before the call."""
    equivalence.check("prepare_packed_latents", **EXACT, vae_kind="sd", batch_size=2, height=24, width=40,
                      global_seed=hidden_seed)
