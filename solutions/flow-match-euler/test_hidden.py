"""Hidden tests for flow-match-euler: inputs come from the run's secret seed."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

SCHEDULE = dict(rtol=1e-5, atol=1e-5)
STEP = dict(rtol=1e-5, atol=1e-5)
LOOP = dict(rtol=1e-5, atol=1e-4)


@pytest.mark.points(2)
def test_calculate_shift_options(equivalence, hidden_seed):
    equivalence.check("shift", rtol=1e-9, atol=1e-9, image_seq_len=64 + hidden_seed % 8000,
                      base_seq_len=128 + hidden_seed % 200, max_seq_len=2048 + hidden_seed % 3000,
                      base_shift=0.2 + hidden_seed % 5 / 10, max_shift=1.0 + hidden_seed % 7 / 10)


@pytest.mark.points(2)
@pytest.mark.parametrize("time_shift_type", ["exponential", "linear"])
def test_time_shift_types(equivalence, probes, hidden_seed, time_shift_type):
    equivalence.check("time_shift", **SCHEDULE, config={**probes.FLUX_CONFIG, "time_shift_type": time_shift_type},
                      mu=0.3 + hidden_seed % 30 / 10, sigma=0.5 + hidden_seed % 3 / 2,
                      t=torch.linspace(1, 0.02, 5 + hidden_seed % 20))


@pytest.mark.points(2)
def test_static_shift_schedules(equivalence, hidden_seed):
    """The evenly spaced sigmas run between the ends of the (already shifted) training schedule."""
    for shift in (1.0, 1.0 + hidden_seed % 40 / 10):
        config = dict(shift=shift, num_train_timesteps=500 + hidden_seed % 1000)
        equivalence.check("schedule", **SCHEDULE, config=config, num_inference_steps=3 + hidden_seed % 30)


@pytest.mark.points(2)
def test_custom_sigmas_with_static_shift(equivalence, probes, hidden_seed):
    equivalence.check("schedule", **SCHEDULE, config={"shift": 1.0 + hidden_seed % 40 / 10},
                      sigmas=probes.flux_sigmas(3 + hidden_seed % 30))


@pytest.mark.points(3)
@pytest.mark.parametrize("time_shift_type", ["exponential", "linear"])
def test_dynamic_shift_schedules(equivalence, probes, hidden_seed, time_shift_type):
    config = {**probes.FLUX_CONFIG, "time_shift_type": time_shift_type}
    mu = 0.5 + hidden_seed % 20 / 10
    num_inference_steps = 3 + hidden_seed % 30
    equivalence.check("schedule", **SCHEDULE, config=config, num_inference_steps=num_inference_steps, mu=mu)
    equivalence.check("schedule", **SCHEDULE, config=config, sigmas=probes.flux_sigmas(num_inference_steps), mu=mu)


@pytest.mark.points(2)
def test_scale_noise_at_random_timesteps(equivalence, probes, hidden_seed):
    generator = torch.Generator().manual_seed(hidden_seed)
    equivalence.check("scale_noise", **STEP, config=probes.SD3_CONFIG, num_inference_steps=20,
                      step_indices=torch.randint(0, 20, (probes.SHAPE[0],), generator=generator).tolist(),
                      sample=seeded_randn(probes.SHAPE, hidden_seed), noise=seeded_randn(probes.SHAPE, hidden_seed + 1))


@pytest.mark.points(2)
@pytest.mark.parametrize("config_name", ["SD3_CONFIG", "FLUX_CONFIG"])
def test_steps(equivalence, probes, hidden_seed, config_name):
    for step_index in (0, hidden_seed % 12, 11):
        equivalence.check("step", **STEP, config=getattr(probes, config_name), num_inference_steps=12,
                          step_index=step_index, mu=1.0 + hidden_seed % 5 / 10, **probes.random_inputs(hidden_seed))


@pytest.mark.points(2)
def test_stochastic_sampling(equivalence, probes, hidden_seed):
    for step_index in (0, 5, 9):
        equivalence.check("step", **STEP, config={**probes.SD3_CONFIG, "stochastic_sampling": True},
                          num_inference_steps=10, step_index=step_index, generator_seed=hidden_seed + 3,
                          **probes.random_inputs(hidden_seed))


@pytest.mark.points(1)
def test_tuple_return_and_dtype(equivalence, probes, hidden_seed):
    equivalence.check("step", **STEP, config=probes.SD3_CONFIG, num_inference_steps=10, step_index=hidden_seed % 10,
                      return_dict=False, **probes.random_inputs(hidden_seed))
    equivalence.check("step", rtol=1e-2, atol=1e-2, config=probes.SD3_CONFIG, num_inference_steps=10, step_index=2,
                      **probes.random_inputs(hidden_seed, torch.bfloat16))


@pytest.mark.points(3)
@pytest.mark.parametrize("schedule", ["sd3", "flux"])
def test_full_loop_with_transformer(equivalence, probes, hidden_seed, schedule):
    equivalence.check("denoising_loop", **LOOP, config=probes.SD3_CONFIG if schedule == "sd3" else probes.FLUX_CONFIG,
                      flux_schedule=schedule == "flux", num_inference_steps=10, model_seed=hidden_seed % 1000,
                      latents=seeded_randn((1, 4, 8, 8), hidden_seed),
                      text_embeddings=seeded_randn((1, 6, 32), hidden_seed + 1),
                      pooled=seeded_randn((1, 64), hidden_seed + 2))
