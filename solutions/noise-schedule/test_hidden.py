"""Hidden tests for noise-schedule: inputs come from the run's secret seed (values only: every schedule, transform,
dtype and default is pinned by the test's parameters)."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

# Measured over 200 draws against a float64 computation cast back to fp32 (numpy schedules, fp64 forward process):
BETAS = dict(rtol=1e-5, atol=1e-8)  # the schedules: within rtol everywhere (fp32 rounding, 6e-8)
RESCALED = dict(rtol=1e-5, atol=2e-5)  # the rescale subtracts close square roots: up to 5e-6 beyond rtol
SAMPLES = dict(rtol=1e-5, atol=1e-6)  # add_noise / get_velocity in fp32: up to 1.4e-7 beyond rtol
SNR = dict(rtol=1e-5, atol=0)  # relative error up to 3e-7
LOSS = dict(rtol=1e-5, atol=1e-5)  # the tiny UNet's loss, noisy input and target: at most 16% of this used
SCHEDULES = ["linear", "scaled_linear", "squaredcos_cap_v2"]


def _options(hidden_seed):
    return dict(num_train_timesteps=100 + hidden_seed % 1900, beta_start=0.0001 + hidden_seed % 7 / 10000,
                beta_end=0.01 + hidden_seed % 11 / 1000)


def _alphas_cumprod(probes, hidden_seed, beta_schedule="scaled_linear", rescale=False):
    betas = probes.ORACLE.make_betas(beta_schedule, **_options(hidden_seed))
    return probes.alphas_cumprod_of(probes.ORACLE.rescale_zero_terminal_snr(betas) if rescale else betas)


@pytest.mark.points(2)
@pytest.mark.parametrize("beta_schedule", SCHEDULES)
@pytest.mark.covers("linear-schedules", "cosine-schedule")
def test_schedules(equivalence, hidden_seed, beta_schedule):
    equivalence.check("betas", **BETAS, beta_schedule=beta_schedule, **_options(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.parametrize("beta_schedule", SCHEDULES)
@pytest.mark.covers("linear-schedules", "cosine-schedule")
def test_schedule_defaults(equivalence, beta_schedule):
    """num_train_timesteps=1000, beta_start=0.0001 and beta_end=0.02 when not given."""
    equivalence.check("betas", **BETAS, beta_schedule=beta_schedule)


@pytest.mark.points(1)
@pytest.mark.covers("alpha-bar-transforms", "max-beta", "forbidden")
def test_alpha_bar_defaults(equivalence, hidden_seed):
    """Only the number of steps: the cosine transform, capped at 0.999 (its last beta reaches the cap)."""
    equivalence.check("alpha_bar_betas", **BETAS, num_diffusion_timesteps=50 + hidden_seed % 1000)


@pytest.mark.points(1)
@pytest.mark.parametrize("alpha_transform_type", ["cosine", "exp", "laplace"])
@pytest.mark.covers("alpha-bar-transforms", "max-beta")
def test_alpha_bar_transforms(equivalence, hidden_seed, alpha_transform_type):
    equivalence.check("alpha_bar_betas", **BETAS, num_diffusion_timesteps=50 + hidden_seed % 1000,
                      max_beta=0.9 + hidden_seed % 9 / 100, alpha_transform_type=alpha_transform_type)


@pytest.mark.points(1)
@pytest.mark.parametrize("alpha_transform_type", ["cosine", "exp", "laplace"])
@pytest.mark.covers("max-beta")
def test_max_beta_binds(equivalence, probes, hidden_seed, alpha_transform_type):
    """A cap below the median beta: for cosine and laplace about half the betas are capped, half are not; exp's
    betas are all equal, so all are capped."""
    num_diffusion_timesteps = 50 + hidden_seed % 1000
    uncapped = probes.ORACLE.betas_for_alpha_bar(num_diffusion_timesteps, 1.0, alpha_transform_type)
    max_beta = float(uncapped.median()) * (0.5 + hidden_seed % 40 / 100)
    equivalence.check("alpha_bar_betas", **BETAS, num_diffusion_timesteps=num_diffusion_timesteps, max_beta=max_beta,
                      alpha_transform_type=alpha_transform_type)


@pytest.mark.points(2)
@pytest.mark.parametrize("beta_schedule", SCHEDULES)
@pytest.mark.covers("zero-terminal-snr", "forbidden")
def test_zero_terminal_snr(equivalence, probes, hidden_seed, beta_schedule):
    equivalence.check("rescaled", **RESCALED, betas=probes.ORACLE.make_betas(beta_schedule, **_options(hidden_seed)))


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.covers("sample-dtype", "add-noise", "velocity")
def test_forward_process_low_precision(equivalence, probes, hidden_seed, dtype):
    """fp16/bf16 samples, fp32 alphas_cumprod: judged against the same computation in float64 (within 4 times
    the library's own error there, plus one ulp), so that computing in fp32 or fp64 and casting back passes."""
    inputs = dict(alphas_cumprod=_alphas_cumprod(probes, hidden_seed),
                  **probes.batch(hidden_seed, _options(hidden_seed)["num_train_timesteps"], dtype))
    equivalence.check_against_truth("noised", **inputs)
    equivalence.check_against_truth("velocity", **inputs)


@pytest.mark.points(1)
@pytest.mark.covers("sample-dtype", "add-noise", "velocity")
def test_forward_process_float64(equivalence, probes, hidden_seed):
    inputs = dict(alphas_cumprod=_alphas_cumprod(probes, hidden_seed),
                  **probes.batch(hidden_seed, _options(hidden_seed)["num_train_timesteps"], torch.float64))
    equivalence.check("noised", **SAMPLES, **inputs)
    equivalence.check("velocity", **SAMPLES, **inputs)


@pytest.mark.points(2)
@pytest.mark.parametrize("rescale", [False, True], ids=["plain", "zero_terminal_snr"])
@pytest.mark.covers("add-noise", "velocity", "sample-dtype", "forbidden")
def test_forward_process(equivalence, probes, hidden_seed, rescale):
    inputs = dict(alphas_cumprod=_alphas_cumprod(probes, hidden_seed, "squaredcos_cap_v2", rescale),
                  **probes.batch(hidden_seed, _options(hidden_seed)["num_train_timesteps"]))
    equivalence.check("noised", **SAMPLES, **inputs)
    equivalence.check("velocity", **SAMPLES, **inputs)


@pytest.mark.points(1)
@pytest.mark.parametrize("beta_schedule", SCHEDULES)
@pytest.mark.covers("snr", "forbidden")
def test_snr(equivalence, probes, hidden_seed, beta_schedule):
    num_train_timesteps = _options(hidden_seed)["num_train_timesteps"]
    timesteps = torch.randint(0, num_train_timesteps, (16,), generator=torch.Generator().manual_seed(hidden_seed))
    equivalence.check("snr", **SNR, alphas_cumprod=_alphas_cumprod(probes, hidden_seed, beta_schedule),
                      timesteps=timesteps)


@pytest.mark.points(1)
@pytest.mark.covers("snr")
def test_snr_is_float32_from_float64_schedule(equivalence, probes, hidden_seed):
    num_train_timesteps = _options(hidden_seed)["num_train_timesteps"]
    timesteps = torch.randint(0, num_train_timesteps, (16,), generator=torch.Generator().manual_seed(hidden_seed))
    equivalence.check("snr", **SNR, alphas_cumprod=_alphas_cumprod(probes, hidden_seed).double(), timesteps=timesteps)


@pytest.mark.points(3)
@pytest.mark.parametrize("setup", [dict(prediction_type="epsilon", rescale=False),
                                   dict(prediction_type="v_prediction", rescale=True)],
                         ids=["epsilon", "v_prediction_zero_terminal_snr"])
@pytest.mark.covers("training-loss")
def test_min_snr_training_loss_with_unet(equivalence, probes, hidden_seed, setup):
    equivalence.check("training_loss", **LOSS, beta_schedule="scaled_linear", **setup,
                      snr_gamma=1.0 + hidden_seed % 9, unet_seed=hidden_seed % 1000,
                      text_embeddings=seeded_randn((probes.SHAPE[0], 6, 32), hidden_seed + 2),
                      **probes.batch(hidden_seed))
