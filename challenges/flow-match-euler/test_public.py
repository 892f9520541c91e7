"""Public tests for flow-match-euler: run them with `diffchallenge test`."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

SCHEDULE = dict(rtol=1e-5, atol=1e-5)  # timesteps are 1000 sigma: rtol covers their fp32 rounding
STEP = dict(rtol=1e-5, atol=1e-5)  # one fp32 step: a float64 computation differs by under 1e-6


@pytest.mark.points(1)
@pytest.mark.covers("calculate-shift")
def test_calculate_shift(equivalence):
    equivalence.check("shift", rtol=1e-9, atol=1e-9, image_seq_len=1024)  # float arithmetic: 1e-16 apart


@pytest.mark.points(2)
@pytest.mark.covers("schedule-default", "static-shift", "schedule-tensors")
def test_sd3_static_shift_schedule(equivalence, probes):
    equivalence.check("schedule", **SCHEDULE, config=probes.SD3_CONFIG, num_inference_steps=10)


@pytest.mark.points(2)
@pytest.mark.covers("schedule-custom-sigmas", "dynamic-shift", "schedule-tensors")
def test_flux_dynamic_shift_schedule(equivalence, probes):
    equivalence.check("schedule", **SCHEDULE, config=probes.FLUX_CONFIG, sigmas=probes.flux_sigmas(8), mu=1.1)


@pytest.mark.points(1)
@pytest.mark.covers("time-shift")
def test_time_shift(equivalence, probes):
    equivalence.check("time_shift", **SCHEDULE, config=probes.FLUX_CONFIG, mu=0.8, sigma=1.0,
                      t=torch.linspace(1, 0.05, 9))


@pytest.mark.points(2)
@pytest.mark.covers("euler-step", "step-index", "return-dict")
def test_step(equivalence, probes):
    equivalence.check("step", **STEP, config=probes.SD3_CONFIG, num_inference_steps=10, step_index=4,
                      **probes.random_inputs(0))


@pytest.mark.points(1)
@pytest.mark.covers("scale-noise", "scale-noise-index")
def test_scale_noise(equivalence, probes):
    equivalence.check("scale_noise", **STEP, config=probes.SD3_CONFIG, num_inference_steps=10, step_indices=[2, 7],
                      sample=probes.random_inputs(1)["sample"], noise=seeded_randn(probes.SHAPE, 2))
