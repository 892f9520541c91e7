"""Public tests for vae-latents: run them with `diffchallenge test`."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

# Measured: 0 for the reference; at most 3.5e-6 (after a decoder) for a solution that scales in float64 and
# encodes the batch at once; 1e-5 leaves room for that and none for a wrong scale, shift or noise.
VAE = dict(rtol=1e-5, atol=1e-5)
EXACT = dict(rtol=0, atol=0)  # packing and noise moves numbers, it computes nothing


@pytest.mark.points(1)
@pytest.mark.covers("scale-factor")
@pytest.mark.parametrize("vae_kind", ["sd", "flux"])
def test_vae_scale_factor(equivalence, vae_kind):
    equivalence.check("scale_factor", **EXACT, vae_kind=vae_kind)


@pytest.mark.points(2)
@pytest.mark.covers("encode-mode", "latent-scaling")
def test_encode_mode_sd(equivalence):
    equivalence.check("encode", **VAE, vae_kind="sd", model_seed=0, image_seed=1, sample=False)


@pytest.mark.points(2)
@pytest.mark.covers("encode-sample", "latent-scaling")
def test_encode_sample_flux(equivalence):
    """sample left to its default (True), one generator for the batch."""
    equivalence.check("encode", **VAE, vae_kind="flux", model_seed=0, image_seed=1, generator_seeds=2)


@pytest.mark.points(2)
@pytest.mark.covers("decode")
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
@pytest.mark.covers("prepare-noise")
def test_prepare_packed_latents(equivalence):
    equivalence.check("prepare_packed_latents", **EXACT, vae_kind="flux", batch_size=1, height=32, width=32,
                      generator_seed=6)
