"""Hidden tests for euler-step: inputs come from the run's secret seed."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

SCHEDULE = dict(rtol=1e-5, atol=1e-4)
STEP = dict(rtol=1e-5, atol=1e-5)
LOOP = dict(rtol=1e-5, atol=1e-4)  # errors accumulate over the steps; |x| reaches 20-50
SPACINGS = ("linspace", "leading", "trailing")


@pytest.mark.points(2)
@pytest.mark.parametrize("beta_schedule", ["linear", "scaled_linear", "squaredcos_cap_v2"])
def test_schedules(equivalence, probes, hidden_seed, beta_schedule):
    for spacing in SPACINGS:
        for final_sigmas_type in ("zero", "sigma_min"):
            equivalence.check("schedule", **SCHEDULE, num_inference_steps=4 + hidden_seed % 30,
                              config={**probes.BASE_CONFIG, "beta_schedule": beta_schedule,
                                      "timestep_spacing": spacing, "final_sigmas_type": final_sigmas_type,
                                      "steps_offset": hidden_seed % 2})


@pytest.mark.points(3)
@pytest.mark.parametrize("spacing", SPACINGS)
def test_karras_schedules(equivalence, probes, hidden_seed, spacing):
    for beta_schedule in ("linear", "scaled_linear"):
        equivalence.check("schedule", **SCHEDULE, num_inference_steps=5 + hidden_seed % 25,
                          config={**probes.BASE_CONFIG, "beta_schedule": beta_schedule, "timestep_spacing": spacing,
                                  "use_karras_sigmas": True})


@pytest.mark.points(2)
def test_karras_with_configured_range(equivalence, probes, hidden_seed):
    equivalence.check("schedule", **SCHEDULE, num_inference_steps=10,
                      config={**probes.BASE_CONFIG, "use_karras_sigmas": True, "sigma_min": 0.05 + hidden_seed % 5 / 10,
                              "sigma_max": 8.0 + hidden_seed % 7})


@pytest.mark.points(2)
@pytest.mark.parametrize("spacing", SPACINGS)
def test_scale_model_input_everywhere(equivalence, probes, hidden_seed, spacing):
    for karras in (False, True):
        equivalence.check("scale_model_input", **STEP, num_inference_steps=9, step_index=hidden_seed % 9,
                          config={**probes.BASE_CONFIG, "timestep_spacing": spacing, "use_karras_sigmas": karras},
                          sample=seeded_randn(probes.SHAPE, hidden_seed, scale=10.0))


@pytest.mark.points(2)
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_steps(equivalence, probes, hidden_seed, prediction_type):
    for step_index in (0, hidden_seed % 10, 9):
        equivalence.check("step", **STEP, config={**probes.BASE_CONFIG, "prediction_type": prediction_type,
                                                  "timestep_spacing": SPACINGS[hidden_seed % 3]},
                          num_inference_steps=10, step_index=step_index, **probes.random_inputs(hidden_seed, scale=5.0))


@pytest.mark.points(2)
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_churn_window_and_noise_scale(equivalence, probes, hidden_seed, prediction_type):
    """s_churn > 0 only adds noise while s_tmin <= sigma <= s_tmax, scaled by s_noise."""
    churn = dict(s_churn=0.5 + hidden_seed % 50, s_tmin=0.3, s_tmax=3.0, s_noise=1.0 + hidden_seed % 5 / 100)
    for step_index in range(8):
        equivalence.check("step", **STEP, config={**probes.BASE_CONFIG, "prediction_type": prediction_type},
                          num_inference_steps=8, step_index=step_index, churn=churn, generator_seed=hidden_seed + 1,
                          **probes.random_inputs(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_low_precision_output_dtype(equivalence, probes, hidden_seed, dtype):
    equivalence.check("step", rtol=1e-2, atol=1e-2, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=4,
                      **probes.random_inputs(hidden_seed, dtype))


@pytest.mark.points(3)
def test_full_loop_epsilon(equivalence, probes, hidden_seed):
    equivalence.check("denoising_loop", **LOOP, config={**probes.BASE_CONFIG, "timestep_spacing": "leading"},
                      num_inference_steps=10, unet_seed=hidden_seed % 1000,
                      latents=seeded_randn((1, 4, 8, 8), hidden_seed),
                      text_embeddings=seeded_randn((1, 6, 32), hidden_seed + 1))


@pytest.mark.points(3)
def test_full_loop_karras_v_prediction_with_churn(equivalence, probes, hidden_seed):
    equivalence.check("denoising_loop", **LOOP, num_inference_steps=10, unet_seed=hidden_seed % 1000,
                      config={**probes.BASE_CONFIG, "use_karras_sigmas": True, "prediction_type": "v_prediction",
                              "timestep_spacing": "trailing"},
                      latents=seeded_randn((1, 4, 8, 8), hidden_seed),
                      text_embeddings=seeded_randn((1, 6, 32), hidden_seed + 1),
                      churn=dict(s_churn=2.0, s_tmin=0.1, s_tmax=10.0), generator_seed=hidden_seed + 2)


@pytest.mark.points(3)
def test_tiny_stable_diffusion_pipeline(equivalence, probes, hidden_seed):
    equivalence.check("pipeline_images", rtol=0, atol=1e-4, config=probes.BASE_CONFIG,
                      prompt="an astronaut riding a horse", num_inference_steps=3, model_seed=hidden_seed % 997,
                      seed=hidden_seed)
