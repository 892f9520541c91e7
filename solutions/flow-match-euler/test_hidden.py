"""Hidden tests for flow-match-euler: inputs come from the run's secret seed.

The secret draws values only (sizes, shifts, mu, data, step indices that all reach the same lines): every
config, option, dtype and index rule is pinned by the test's parameters."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

# Measured against a float64 computation (schedules, shifts and steps in float64, cast back), 200 draws:
SCHEDULE = dict(rtol=1e-5, atol=1e-5)  # timesteps are 1000 sigma: an fp32 rounding apart is 6e-5 at 1000, rtol 1e-5
STEP = dict(rtol=1e-5, atol=1e-5)  # single fp32 steps and scale_noise: a float64 computation differs by under 1e-6
LOOP = dict(rtol=1e-5, atol=1e-4)  # 10 steps with a tiny transformer: a float64 scheduler differs by under 1e-6


def _steps(hidden_seed):
    return 3 + hidden_seed % 30


def _train_steps(hidden_seed):
    return 500 + hidden_seed % 1000


@pytest.mark.points(2)
@pytest.mark.covers("calculate-shift", "forbidden")
def test_calculate_shift_options(equivalence, hidden_seed):
    equivalence.check("shift", rtol=1e-9, atol=1e-9, image_seq_len=64 + hidden_seed % 8000,
                      base_seq_len=128 + hidden_seed % 200, max_seq_len=2048 + hidden_seed % 3000,
                      base_shift=0.2 + hidden_seed % 5 / 10, max_shift=1.0 + hidden_seed % 7 / 10)


@pytest.mark.points(1)
@pytest.mark.covers("calculate-shift")
def test_calculate_shift_defaults(equivalence, hidden_seed):
    """base_seq_len 256, max_seq_len 4096, base_shift 0.5, max_shift 1.15 when not given."""
    equivalence.check("shift", rtol=1e-9, atol=1e-9, image_seq_len=64 + hidden_seed % 8000)


@pytest.mark.points(2)
@pytest.mark.parametrize("time_shift_type", ["exponential", "linear"])
@pytest.mark.covers("time-shift", "forbidden")
def test_time_shift_types(equivalence, probes, hidden_seed, time_shift_type):
    equivalence.check("time_shift", **SCHEDULE, config={**probes.FLUX_CONFIG, "time_shift_type": time_shift_type},
                      mu=0.3 + hidden_seed % 30 / 10, sigma=0.5 + hidden_seed % 3 / 2,
                      t=torch.linspace(1, 0.02, 5 + hidden_seed % 20))


@pytest.mark.points(1)
@pytest.mark.parametrize("shift_range", ["one", "below_one", "above_one"])
@pytest.mark.covers("schedule-default", "static-shift", "schedule-tensors", "forbidden")
def test_static_shift_schedules(equivalence, hidden_seed, shift_range):
    """The evenly spaced sigmas run between the ends of the (already shifted) training schedule, for any
    num_train_timesteps; a shift of 1 leaves them, one below 1 moves them towards 0, one above towards 1."""
    shift = {"one": 1.0, "below_one": 0.2 + hidden_seed % 8 / 10, "above_one": 1.1 + hidden_seed % 40 / 10}[shift_range]
    equivalence.check("schedule", **SCHEDULE, config=dict(shift=shift, num_train_timesteps=_train_steps(hidden_seed)),
                      num_inference_steps=_steps(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.covers("schedule-tensors")
def test_schedule_with_device(equivalence, probes, hidden_seed):
    """set_timesteps(..., device="cpu"): the grading device."""
    equivalence.check("schedule", **SCHEDULE, config=probes.SD3_CONFIG, num_inference_steps=_steps(hidden_seed),
                      set_device="cpu")


@pytest.mark.points(2)
@pytest.mark.parametrize(("sigma_kind", "sigmas_as_array"), [("flux", False), ("random", True)],
                         ids=["flux_list", "random_array"])
@pytest.mark.covers("schedule-custom-sigmas", "static-shift")
def test_custom_sigmas_with_static_shift(equivalence, probes, hidden_seed, sigma_kind, sigmas_as_array):
    """Flux's sigmas as a list, any decreasing sigmas as a numpy array (test_dynamic_shift_schedules has the other
    two pairings)."""
    count = _steps(hidden_seed)
    sigmas = probes.flux_sigmas(count) if sigma_kind == "flux" else probes.random_sigmas(hidden_seed, count)
    equivalence.check("schedule", **SCHEDULE, config={"shift": 1.1 + hidden_seed % 40 / 10,
                                                      "num_train_timesteps": _train_steps(hidden_seed)},
                      sigmas=sigmas, sigmas_as_array=sigmas_as_array)


@pytest.mark.points(3)
@pytest.mark.parametrize("time_shift_type", ["exponential", "linear"])
@pytest.mark.covers("dynamic-shift", "schedule-default", "schedule-custom-sigmas", "schedule-tensors")
def test_dynamic_shift_schedules(equivalence, probes, hidden_seed, time_shift_type):
    config = {**probes.FLUX_CONFIG, "time_shift_type": time_shift_type,
              "num_train_timesteps": _train_steps(hidden_seed)}
    mu = 0.5 + hidden_seed % 20 / 10
    num_inference_steps = _steps(hidden_seed)
    equivalence.check("schedule", **SCHEDULE, config=config, num_inference_steps=num_inference_steps, mu=mu)
    equivalence.check("schedule", **SCHEDULE, config=config, sigmas=probes.flux_sigmas(num_inference_steps), mu=mu,
                      sigmas_as_array=True)
    equivalence.check("schedule", **SCHEDULE, config=config, sigmas=probes.random_sigmas(hidden_seed, 7), mu=mu)


@pytest.mark.points(1)
@pytest.mark.covers("mu-required")
def test_dynamic_shift_requires_mu(equivalence, probes, hidden_seed):
    equivalence.check("missing_mu", **SCHEDULE, config=probes.FLUX_CONFIG, num_inference_steps=_steps(hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("scale-noise", "scale-noise-index", "forbidden")
def test_scale_noise_at_random_timesteps(equivalence, probes, hidden_seed):
    """No begin_index: each sample's sigma is found from its own timestep."""
    generator = torch.Generator().manual_seed(hidden_seed)
    equivalence.check("scale_noise", **STEP, config=probes.SD3_CONFIG, num_inference_steps=20,
                      step_indices=torch.randint(0, 20, (probes.SHAPE[0],), generator=generator).tolist(),
                      sample=seeded_randn(probes.SHAPE, hidden_seed), noise=seeded_randn(probes.SHAPE, hidden_seed + 1))


@pytest.mark.points(1)
@pytest.mark.covers("step-index", "scale-noise-index")
def test_set_timesteps_again_starts_over(equivalence, probes, hidden_seed):
    """After a begin index and a step, set_timesteps again: no begin index (each timestep's own sigma) and no
    step index (the next step finds it from its timestep)."""
    equivalence.check("set_timesteps_again", **STEP, config=probes.FLUX_CONFIG, num_inference_steps=20, mu=1.0,
                      begin_index=3 + hidden_seed % 10, step_indices=[hidden_seed % 3, 15 + hidden_seed % 5],
                      sample=seeded_randn(probes.SHAPE, hidden_seed), noise=seeded_randn(probes.SHAPE, hidden_seed + 1))


@pytest.mark.points(1)
@pytest.mark.parametrize("steps_before", [0, 2], ids=["img2img_begin_index", "inpainting_after_steps"])
@pytest.mark.covers("scale-noise-index", "scale-noise")
def test_scale_noise_with_begin_index(equivalence, probes, hidden_seed, steps_before):
    """After set_begin_index, the sigma is the one at begin_index (before any step) or at step_index (after
    steps), whatever the timesteps passed: they are drawn elsewhere in the schedule here."""
    begin_index = hidden_seed % 10
    equivalence.check("scale_noise", **STEP, config=probes.FLUX_CONFIG, num_inference_steps=20, mu=1.0,
                      step_indices=[begin_index + 5, begin_index + 7], begin_index=begin_index,
                      steps_before=steps_before, sample=seeded_randn(probes.SHAPE, hidden_seed),
                      noise=seeded_randn(probes.SHAPE, hidden_seed + 1))


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.covers("scale-noise")
def test_scale_noise_low_precision(equivalence, probes, hidden_seed, dtype):
    """Judged against the same computation in float64: within 4 times the library's own error there, plus one
    ulp; the result's dtype is the sample's."""
    generator = torch.Generator().manual_seed(hidden_seed)
    equivalence.check_against_truth("scale_noise", config=probes.SD3_CONFIG, num_inference_steps=20,
                                    step_indices=torch.randint(0, 20, (probes.SHAPE[0],), generator=generator).tolist(),
                                    sample=seeded_randn(probes.SHAPE, hidden_seed, dtype),
                                    noise=seeded_randn(probes.SHAPE, hidden_seed + 1, dtype))


@pytest.mark.points(1)
@pytest.mark.covers("scale-noise")
def test_scale_noise_float64(equivalence, probes, hidden_seed):
    equivalence.check("scale_noise", **STEP, config=probes.SD3_CONFIG, num_inference_steps=20,
                      step_indices=[hidden_seed % 20, 19 - hidden_seed % 20],
                      sample=seeded_randn((2, 4, 8, 8), hidden_seed, torch.float64),
                      noise=seeded_randn((2, 4, 8, 8), hidden_seed + 1, torch.float64))


@pytest.mark.points(2)
@pytest.mark.parametrize("config_name", ["SD3_CONFIG", "FLUX_CONFIG"])
@pytest.mark.covers("euler-step", "step-index", "return-dict", "forbidden")
def test_steps(equivalence, probes, hidden_seed, config_name):
    """The first, a middle and the last step (mu is ignored by SD3's static shift)."""
    for step_index in (0, hidden_seed % 12, 11):
        equivalence.check("step", **STEP, config=getattr(probes, config_name), num_inference_steps=12,
                          step_index=step_index, mu=1.0 + hidden_seed % 5 / 10, **probes.random_inputs(hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("stochastic-step", "step-index")
def test_stochastic_sampling(equivalence, probes, hidden_seed):
    for step_index in (0, 5, 9):
        equivalence.check("step", **STEP, config={**probes.SD3_CONFIG, "stochastic_sampling": True},
                          num_inference_steps=10, step_index=step_index, generator_seed=hidden_seed + 3,
                          **probes.random_inputs(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.parametrize("stochastic_sampling", [False, True], ids=["euler", "stochastic"])
@pytest.mark.covers("churn-ignored")
def test_churn_options_are_ignored(equivalence, probes, hidden_seed, stochastic_sampling):
    equivalence.check("step", **STEP, config={**probes.SD3_CONFIG, "stochastic_sampling": stochastic_sampling},
                      num_inference_steps=10, step_index=hidden_seed % 9, generator_seed=hidden_seed + 3,
                      s_churn=0.5 + hidden_seed % 10, s_tmin=0.1, s_tmax=900.0, s_noise=1.5 + hidden_seed % 5 / 10,
                      **probes.random_inputs(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.parametrize("return_dict", [True, False])
@pytest.mark.covers("return-dict", "step-index")
def test_return_dict(equivalence, probes, hidden_seed, return_dict):
    """Passed explicitly: an output with prev_sample, or a 1-tuple (test_steps leaves it at its default)."""
    equivalence.check("step", **STEP, config=probes.SD3_CONFIG, num_inference_steps=10, step_index=hidden_seed % 10,
                      return_dict=return_dict, **probes.random_inputs(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.covers("step-dtype")
def test_step_low_precision(equivalence, probes, hidden_seed, dtype):
    """Judged against the same step in float64 (within 4 times the library's error there, plus one ulp): computing
    in fp32 or fp64 and casting back passes; the result's dtype is the model output's."""
    equivalence.check_against_truth("step", config=probes.SD3_CONFIG, num_inference_steps=10,
                                    step_index=hidden_seed % 10, **probes.random_inputs(hidden_seed, dtype))


@pytest.mark.points(1)
@pytest.mark.covers("step-dtype")
def test_step_fp32_sample_bf16_model_output(equivalence, probes, hidden_seed):
    """An fp32 sample with a bf16 velocity: the result is bf16, the model output's dtype."""
    inputs = probes.random_inputs(hidden_seed)
    equivalence.check_against_truth("step", config=probes.FLUX_CONFIG, mu=1.0, num_inference_steps=10,
                                    step_index=hidden_seed % 10, sample=inputs["sample"],
                                    model_output=inputs["model_output"].to(torch.bfloat16))


@pytest.mark.points(1)
@pytest.mark.covers("step-dtype")
def test_step_float64(equivalence, probes, hidden_seed):
    equivalence.check("step", **STEP, config=probes.SD3_CONFIG, num_inference_steps=10, step_index=hidden_seed % 10,
                      **probes.random_inputs(hidden_seed, torch.float64))


@pytest.mark.points(3)
@pytest.mark.parametrize("schedule", ["sd3", "flux"])
@pytest.mark.covers("sampling-loop", "calculate-shift", "step-index")
def test_full_loop_with_transformer(equivalence, probes, hidden_seed, schedule):
    equivalence.check("denoising_loop", **LOOP, config=probes.SD3_CONFIG if schedule == "sd3" else probes.FLUX_CONFIG,
                      flux_schedule=schedule == "flux", num_inference_steps=10, model_seed=hidden_seed % 1000,
                      latents=seeded_randn((1, 4, 8, 8), hidden_seed),
                      text_embeddings=seeded_randn((1, 6, 32), hidden_seed + 1),
                      pooled=seeded_randn((1, 64), hidden_seed + 2))
