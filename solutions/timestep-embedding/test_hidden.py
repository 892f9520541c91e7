"""Hidden tests for timestep-embedding: inputs come from the run's secret seed.

The secret draws values only: every branch (flip or not, odd or even size, each timestep dtype, each option
passed or left at its default) is pinned by the test's parameters."""

import pytest
import torch

# fp32 angles reach 1000 (an ulp of 6e-5): measured over 300-500 draws, a float64 computation differs by up to 8e-5,
# an fp32 one in another order (scale * frequency first, frequencies as max_period ** -x) by up to 1.2e-4.
EMBEDDING = dict(rtol=0, atol=5e-4)
UNET = dict(rtol=1e-4, atol=1e-4)  # measured: under 1e-6 for a float64 embedding inside the tiny UNets
MAX_ANGLE = 1000.0  # every test keeps scale * timestep under it, so that EMBEDDING holds for any correct order


def random_timesteps(seed, count=8, dtype=torch.float32, high=1000.0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(count, generator=generator, dtype=torch.float64) * high).to(dtype)


def even_dimension(seed):
    return 8 + 2 * (seed % 30)  # half_dim >= 4, so that any downscale_freq_shift under 2 leaves a positive divisor


def odd_dimension(seed):
    return even_dimension(seed) + 1


@pytest.mark.points(1)
@pytest.mark.covers("frequencies", "freq-shift", "scale", "order", "odd-dimension", "forbidden")
def test_default_options(equivalence, hidden_seed):
    """No option passed: [sin | cos], downscale_freq_shift 1, scale 1, max_period 10000; odd and even sizes."""
    timesteps = random_timesteps(hidden_seed)
    for embedding_dim in (even_dimension(hidden_seed), odd_dimension(hidden_seed)):
        equivalence.check("embedding", **EMBEDDING, timesteps=timesteps, embedding_dim=embedding_dim)


@pytest.mark.points(1)
@pytest.mark.parametrize("downscale_freq_shift", [0, 1])
@pytest.mark.parametrize("flip_sin_to_cos", [False, True])
@pytest.mark.covers("frequencies", "freq-shift", "order", "odd-dimension")
def test_option_combinations(equivalence, hidden_seed, flip_sin_to_cos, downscale_freq_shift):
    timesteps = random_timesteps(hidden_seed)
    for embedding_dim in (even_dimension(hidden_seed), odd_dimension(hidden_seed)):
        equivalence.check("embedding", **EMBEDDING, timesteps=timesteps, embedding_dim=embedding_dim,
                          flip_sin_to_cos=flip_sin_to_cos, downscale_freq_shift=downscale_freq_shift)


@pytest.mark.points(2)
@pytest.mark.covers("freq-shift", "frequencies")
def test_fractional_freq_shift(equivalence, hidden_seed):
    """downscale_freq_shift is a float: 0.05, 0.15, ..., 1.95 (never 0 or 1)."""
    equivalence.check("embedding", **EMBEDDING, timesteps=random_timesteps(hidden_seed),
                      embedding_dim=even_dimension(hidden_seed), flip_sin_to_cos=True,
                      downscale_freq_shift=0.05 + hidden_seed % 20 / 10)


@pytest.mark.points(2)
@pytest.mark.covers("scale", "frequencies", "odd-dimension")
def test_scale_and_max_period(equivalence, hidden_seed):
    """Timesteps in [0, 1] scaled by 1000 (as flow-matching models do), an odd dimension and a custom period."""
    equivalence.check("embedding", **EMBEDDING, timesteps=random_timesteps(hidden_seed, high=1.0),
                      embedding_dim=2 * (hidden_seed % 20) + 9, flip_sin_to_cos=True, downscale_freq_shift=0,
                      scale=MAX_ANGLE, max_period=100 + hidden_seed % 20000)


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.float16, torch.bfloat16, torch.float64], ids=str)
@pytest.mark.covers("timestep-dtypes")
def test_timestep_dtypes(equivalence, hidden_seed, dtype):
    """The embedding is fp32 whatever the timesteps' dtype (the result is an fp32 computation on the same
    timestep values, so the fp32 tolerance applies to every dtype)."""
    equivalence.check("embedding", **EMBEDDING, timesteps=random_timesteps(hidden_seed, dtype=dtype),
                      embedding_dim=even_dimension(hidden_seed), flip_sin_to_cos=True, downscale_freq_shift=1)


@pytest.mark.points(1)
@pytest.mark.parametrize("flip_sin_to_cos", [False, True])
@pytest.mark.covers("timesteps-module", "scale", "forbidden")
def test_timesteps_module(equivalence, hidden_seed, flip_sin_to_cos):
    scale = 2 + hidden_seed % 2
    equivalence.check("module", **EMBEDDING, timesteps=random_timesteps(hidden_seed, high=MAX_ANGLE / scale),
                      num_channels=even_dimension(hidden_seed) + flip_sin_to_cos, flip_sin_to_cos=flip_sin_to_cos,
                      downscale_freq_shift=0.05 + hidden_seed % 20 / 10, scale=scale)


@pytest.mark.points(1)
@pytest.mark.covers("timesteps-module", "scale")
def test_timesteps_module_default_scale(equivalence, hidden_seed):
    equivalence.check("module", **EMBEDDING, timesteps=random_timesteps(hidden_seed),
                      num_channels=even_dimension(hidden_seed), flip_sin_to_cos=True, downscale_freq_shift=0)


@pytest.mark.points(2)
@pytest.mark.parametrize(("flip_sin_to_cos", "freq_shift"), [(True, 0), (False, 1)], ids=["sd", "ddpm"])
@pytest.mark.covers("unet-time-proj")
def test_unet_per_sample_timesteps(equivalence, hidden_seed, flip_sin_to_cos, freq_shift):
    equivalence.check("unet", **UNET, unet_seed=hidden_seed % 1000, timestep=random_timesteps(hidden_seed, count=2),
                      data_seed=hidden_seed, flip_sin_to_cos=flip_sin_to_cos, freq_shift=freq_shift)


@pytest.mark.points(3)
@pytest.mark.covers("unet-time-proj")
def test_sdxl_unet_time_and_micro_conditioning(equivalence, hidden_seed):
    equivalence.check("unet", **UNET, unet_seed=hidden_seed % 1000,
                      timestep=random_timesteps(hidden_seed, count=2, dtype=torch.int64), data_seed=hidden_seed,
                      sdxl=True)
