"""Hidden tests for noise-schedule: inputs come from the run's secret seed."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

BETAS = dict(rtol=1e-5, atol=1e-8)
RESCALED = dict(rtol=1e-5, atol=2e-5)
SAMPLES = dict(rtol=1e-5, atol=1e-6)
SCHEDULES = ["linear", "scaled_linear", "squaredcos_cap_v2"]


def _options(hidden_seed):
    return dict(num_train_timesteps=100 + hidden_seed % 1900, beta_start=0.0001 + hidden_seed % 7 / 10000,
                beta_end=0.01 + hidden_seed % 11 / 1000)


def _alphas_cumprod(probes, hidden_seed, beta_schedule="scaled_linear", rescale=False):
    betas = probes.ORACLE.make_betas(beta_schedule, **_options(hidden_seed))
    return probes.alphas_cumprod_of(probes.ORACLE.rescale_zero_terminal_snr(betas) if rescale else betas)


@pytest.mark.points(2)
@pytest.mark.parametrize("beta_schedule", SCHEDULES)
def test_schedules(equivalence, hidden_seed, beta_schedule):
    equivalence.check("betas", **BETAS, beta_schedule=beta_schedule, **_options(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.parametrize("alpha_transform_type", ["cosine", "exp", "laplace"])
def test_alpha_bar_transforms(equivalence, hidden_seed, alpha_transform_type):
    equivalence.check("alpha_bar_betas", **BETAS, num_diffusion_timesteps=50 + hidden_seed % 1000,
                      max_beta=0.9 + hidden_seed % 9 / 100, alpha_transform_type=alpha_transform_type)


@pytest.mark.points(2)
@pytest.mark.parametrize("beta_schedule", SCHEDULES)
def test_zero_terminal_snr(equivalence, probes, hidden_seed, beta_schedule):
    equivalence.check("rescaled", **RESCALED, betas=probes.ORACLE.make_betas(beta_schedule, **_options(hidden_seed)))


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64], ids=str)
def test_forward_process_keeps_dtype(equivalence, probes, hidden_seed, dtype):
    tolerance = SAMPLES if dtype == torch.float64 else dict(rtol=1e-2, atol=1e-2)
    inputs = dict(alphas_cumprod=_alphas_cumprod(probes, hidden_seed),
                  **probes.batch(hidden_seed, _options(hidden_seed)["num_train_timesteps"], dtype))
    equivalence.check("noised", **tolerance, **inputs)
    equivalence.check("velocity", **tolerance, **inputs)


@pytest.mark.points(2)
@pytest.mark.parametrize("rescale", [False, True], ids=["plain", "zero_terminal_snr"])
def test_forward_process(equivalence, probes, hidden_seed, rescale):
    inputs = dict(alphas_cumprod=_alphas_cumprod(probes, hidden_seed, "squaredcos_cap_v2", rescale),
                  **probes.batch(hidden_seed, _options(hidden_seed)["num_train_timesteps"]))
    equivalence.check("noised", **SAMPLES, **inputs)
    equivalence.check("velocity", **SAMPLES, **inputs)


@pytest.mark.points(1)
@pytest.mark.parametrize("beta_schedule", SCHEDULES)
def test_snr(equivalence, probes, hidden_seed, beta_schedule):
    num_train_timesteps = _options(hidden_seed)["num_train_timesteps"]
    timesteps = torch.randint(0, num_train_timesteps, (16,), generator=torch.Generator().manual_seed(hidden_seed))
    equivalence.check("snr", rtol=1e-5, atol=0, alphas_cumprod=_alphas_cumprod(probes, hidden_seed, beta_schedule),
                      timesteps=timesteps)


@pytest.mark.points(3)
@pytest.mark.parametrize("setup", [dict(prediction_type="epsilon", rescale=False),
                                   dict(prediction_type="v_prediction", rescale=True)],
                         ids=["epsilon", "v_prediction_zero_terminal_snr"])
def test_min_snr_training_loss_with_unet(equivalence, probes, hidden_seed, setup):
    equivalence.check("training_loss", rtol=1e-5, atol=1e-5, beta_schedule="scaled_linear", **setup,
                      snr_gamma=1.0 + hidden_seed % 9, unet_seed=hidden_seed % 1000,
                      text_embeddings=seeded_randn((probes.SHAPE[0], 6, 32), hidden_seed + 2),
                      **probes.batch(hidden_seed))
