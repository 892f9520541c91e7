"""Public tests for noise-schedule: run them with `diffchallenge test`."""

import pytest

BETAS = dict(rtol=1e-5, atol=1e-8)  # fp32 schedules: a float64 computation cast back stays within rtol
# Rescaling subtracts two close square roots: an fp64 computation differs from diffusers' fp32 by up to 7e-6.
RESCALED = dict(rtol=1e-5, atol=2e-5)
SAMPLES = dict(rtol=1e-5, atol=1e-6)  # fp32 forward process: a float64 one differs by up to 1.4e-7 beyond rtol
SNR = dict(rtol=1e-5, atol=0)  # a float64 SNR cast to fp32 differs by up to 3e-7, relative


@pytest.mark.points(1)
@pytest.mark.parametrize("beta_schedule", ["linear", "scaled_linear"])
@pytest.mark.covers("linear-schedules")
def test_linear_schedules(equivalence, beta_schedule):
    equivalence.check("betas", **BETAS, beta_schedule=beta_schedule, beta_start=0.00085, beta_end=0.012)


@pytest.mark.points(2)
@pytest.mark.covers("cosine-schedule")
def test_cosine_schedule(equivalence):
    equivalence.check("betas", **BETAS, beta_schedule="squaredcos_cap_v2")


@pytest.mark.points(2)
@pytest.mark.covers("zero-terminal-snr")
def test_zero_terminal_snr(equivalence, probes):
    betas = probes.ORACLE.make_betas("scaled_linear", beta_start=0.00085, beta_end=0.012)
    equivalence.check("rescaled", **RESCALED, betas=betas)


@pytest.mark.points(2)
@pytest.mark.covers("add-noise")
def test_add_noise(equivalence, probes):
    alphas_cumprod = probes.alphas_cumprod_of(probes.ORACLE.make_betas("linear"))
    equivalence.check("noised", **SAMPLES, alphas_cumprod=alphas_cumprod, **probes.batch(0))


@pytest.mark.points(1)
@pytest.mark.covers("velocity")
def test_velocity(equivalence, probes):
    alphas_cumprod = probes.alphas_cumprod_of(probes.ORACLE.make_betas("linear"))
    equivalence.check("velocity", **SAMPLES, alphas_cumprod=alphas_cumprod, **probes.batch(1))


@pytest.mark.points(1)
@pytest.mark.covers("snr")
def test_snr(equivalence, probes):
    alphas_cumprod = probes.alphas_cumprod_of(probes.ORACLE.make_betas("linear"))
    equivalence.check("snr", **SNR, alphas_cumprod=alphas_cumprod, timesteps=probes.batch(2)["timesteps"])
