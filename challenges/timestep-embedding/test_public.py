"""Public tests for timestep-embedding: run them with `diffchallenge test`."""

import pytest
import torch

# fp32 angles reach 1000 (an ulp of 6e-5): a float64 computation differs by up to 8e-5, another fp32 order by 1.2e-4.
EMBEDDING = dict(rtol=0, atol=5e-4)
UNET = dict(rtol=1e-4, atol=1e-4)  # measured: 1e-6 for an fp64 embedding inside the tiny UNet


@pytest.mark.points(1)
@pytest.mark.covers("frequencies", "freq-shift", "scale", "order", "forbidden")
def test_default_options(equivalence):
    equivalence.check("embedding", **EMBEDDING, timesteps=torch.tensor([0, 1, 10, 500, 999]), embedding_dim=16)


@pytest.mark.points(2)
@pytest.mark.covers("order", "freq-shift", "frequencies")
def test_stable_diffusion_options(equivalence):
    """Stable Diffusion's UNet: cos first, no frequency shift, fractional timesteps."""
    equivalence.check("embedding", **EMBEDDING, timesteps=torch.tensor([0.5, 37.25, 999.0]), embedding_dim=32,
                      flip_sin_to_cos=True, downscale_freq_shift=0)


@pytest.mark.points(1)
@pytest.mark.covers("odd-dimension")
def test_odd_dimension(equivalence):
    equivalence.check("embedding", **EMBEDDING, timesteps=torch.tensor([3.0, 700.0]), embedding_dim=7,
                      flip_sin_to_cos=True, downscale_freq_shift=1)


@pytest.mark.points(1)
@pytest.mark.covers("timesteps-module", "scale", "forbidden")
def test_timesteps_module(equivalence):
    equivalence.check("module", **EMBEDDING, timesteps=torch.tensor([1.0, 250.0, 900.0]), num_channels=10,
                      flip_sin_to_cos=False, downscale_freq_shift=1, scale=2)


@pytest.mark.points(3)
@pytest.mark.covers("unet-time-proj")
def test_unet_with_your_time_proj(equivalence):
    equivalence.check("unet", **UNET, unet_seed=0, timestep=999, data_seed=1)
