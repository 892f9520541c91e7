"""Public tests for vae-latents: run them with `diffchallenge test`."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

VAE = dict(rtol=1e-5, atol=1e-5)  # measured 0 for the reference; leaves room for a differently ordered sum
EXACT = dict(rtol=0, atol=0)  # packing and noise moves numbers, it computes nothing


@pytest.mark.points(1)
@pytest.mark.parametrize("vae_kind", ["sd", "flux"])
@pytest.mark.covers("scale-factor")
def test_vae_scale_factor(equivalence, vae_kind):
    equivalence.check("scale_factor", **EXACT, vae_kind=vae_kind)


@pytest.mark.points(2)
@pytest.mark.covers("encode-mode", "shift-factor")
def test_encode_mode_sd(equivalence):
    equivalence.check("encode", **VAE, vae_kind="sd", model_seed=0, image_seed=1, sample=False)


@pytest.mark.points(2)
@pytest.mark.covers("encode-sample", "shift-factor")
def test_encode_sample_flux(equivalence):
    equivalence.check("encode", **VAE, vae_kind="flux", model_seed=0, image_seed=1, generator_seeds=2)


@pytest.mark.points(2)
@pytest.mark.covers("decode", "shift-factor")
def test_decode_sd(equivalence):
    equivalence.check("decode", **VAE, vae_kind="sd", model_seed=0, latent_seed=3)


@pytest.mark.points(1)
@pytest.mark.covers("pack")
def test_pack(equivalence):
    equivalence.check("pack", **EXACT, latents=seeded_randn((1, 16, 4, 6), 4))


@pytest.mark.points(1)
@pytest.mark.covers("unpack")
def test_unpack(equivalence):
    equivalence.check("unpack", **EXACT, packed=seeded_randn((1, 16, 64), 5), height=32, width=32, vae_scale_factor=4)


@pytest.mark.points(2)
@pytest.mark.covers("prepare-packed")
def test_prepare_packed_latents(equivalence):
    equivalence.check("prepare_packed_latents", **EXACT, vae_kind="flux", batch_size=1, height=32, width=32,
                      generator_seed=6)
