"""Hidden tests for timestep-embedding: inputs come from the run's secret seed."""

import pytest
import torch

EMBEDDING = dict(rtol=0, atol=5e-4)
UNET = dict(rtol=1e-4, atol=1e-4)


def random_timesteps(seed, count=8, dtype=torch.float32, high=1000.0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(count, generator=generator, dtype=torch.float64) * high).to(dtype)


def random_dimension(seed):
    return 4 + seed % 61  # odd and even, from 4 (shift 1 needs half_dim > 1)


@pytest.mark.points(1)
@pytest.mark.parametrize("downscale_freq_shift", [0, 1])
@pytest.mark.parametrize("flip_sin_to_cos", [False, True])
def test_option_combinations(equivalence, hidden_seed, flip_sin_to_cos, downscale_freq_shift):
    equivalence.check("embedding", **EMBEDDING, timesteps=random_timesteps(hidden_seed),
                      embedding_dim=random_dimension(hidden_seed), flip_sin_to_cos=flip_sin_to_cos,
                      downscale_freq_shift=downscale_freq_shift)


@pytest.mark.points(2)
def test_scale_and_max_period(equivalence, hidden_seed):
    """Timesteps in [0, 1] scaled by 1000 (as flow-matching models do), an odd dimension and a custom period."""
    equivalence.check("embedding", **EMBEDDING, timesteps=random_timesteps(hidden_seed, high=1.0),
                      embedding_dim=2 * (hidden_seed % 20) + 9, flip_sin_to_cos=True, downscale_freq_shift=0,
                      scale=1000, max_period=100 + hidden_seed % 20000)


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [torch.int64, torch.float64], ids=str)
def test_output_is_float32(equivalence, hidden_seed, dtype):
    equivalence.check("embedding", **EMBEDDING, timesteps=random_timesteps(hidden_seed, dtype=dtype),
                      embedding_dim=random_dimension(hidden_seed), flip_sin_to_cos=True, downscale_freq_shift=1)


@pytest.mark.points(1)
def test_timesteps_module(equivalence, hidden_seed):
    equivalence.check("module", **EMBEDDING, timesteps=random_timesteps(hidden_seed),
                      num_channels=random_dimension(hidden_seed), flip_sin_to_cos=bool(hidden_seed % 2),
                      downscale_freq_shift=1, scale=1 + hidden_seed % 3)


@pytest.mark.points(2)
def test_unet_per_sample_timesteps(equivalence, hidden_seed):
    equivalence.check("unet", **UNET, unet_seed=hidden_seed % 1000, timestep=random_timesteps(hidden_seed, count=2),
                      data_seed=hidden_seed, flip_sin_to_cos=bool(hidden_seed % 2), freq_shift=hidden_seed % 2)


@pytest.mark.points(3)
def test_sdxl_unet_time_and_micro_conditioning(equivalence, hidden_seed):
    equivalence.check("unet", **UNET, unet_seed=hidden_seed % 1000,
                      timestep=random_timesteps(hidden_seed, count=2, dtype=torch.int64), data_seed=hidden_seed,
                      sdxl=True)
