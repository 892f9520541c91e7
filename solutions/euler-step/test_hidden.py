"""Hidden tests for euler-step: inputs come from the run's secret seed; every branch is pinned by the test's id."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

# Timesteps reach 999, where an fp32 ulp is 6e-5; a float64 schedule (torch, own interpolation) uses 2% of it.
SCHEDULE = dict(rtol=1e-5, atol=1e-4)
# One fp32 step: a float64 step, cast back, uses at most 22% of this (measured).
STEP = dict(rtol=1e-5, atol=1e-5)
SPACINGS = ("linspace", "leading", "trailing")
LOW_PRECISION = [torch.float16, torch.bfloat16]


@pytest.mark.points(2)
@pytest.mark.covers("timesteps", "sigmas", "final-sigma", "init-noise-sigma", "forbidden")
@pytest.mark.parametrize("beta_schedule", ["linear", "scaled_linear", "squaredcos_cap_v2"])
def test_schedules(equivalence, probes, hidden_seed, beta_schedule):
    for spacing in SPACINGS:
        for final_sigmas_type in ("zero", "sigma_min"):
            equivalence.check("schedule", **SCHEDULE, num_inference_steps=4 + hidden_seed % 30,
                              config={**probes.BASE_CONFIG, "beta_schedule": beta_schedule,
                                      "timestep_spacing": spacing, "final_sigmas_type": final_sigmas_type,
                                      "steps_offset": hidden_seed % 2})


@pytest.mark.points(1)
@pytest.mark.covers("timesteps", "sigmas")
def test_other_training_schedule(equivalence, probes, hidden_seed):
    """num_train_timesteps = 500: no spacing may assume 1000 training steps."""
    for spacing in SPACINGS:
        equivalence.check("schedule", **SCHEDULE, num_inference_steps=7 + hidden_seed % 5,
                          config={**probes.BASE_CONFIG, "num_train_timesteps": 500, "beta_schedule": "linear",
                                  "beta_start": 0.0001, "beta_end": 0.02, "timestep_spacing": spacing})


@pytest.mark.points(1)
@pytest.mark.covers("timesteps", "sigmas")
def test_as_many_steps_as_training_steps(equivalence, probes, hidden_seed):
    """num_inference_steps = num_train_timesteps: trailing steps by exactly 1, down to timestep 0."""
    steps = 20 + hidden_seed % 20
    for spacing in SPACINGS:
        equivalence.check("schedule", **SCHEDULE, num_inference_steps=steps,
                          config={**probes.BASE_CONFIG, "num_train_timesteps": steps, "beta_schedule": "linear",
                                  "beta_start": 0.0001, "beta_end": 0.02, "timestep_spacing": spacing})


@pytest.mark.points(3)
@pytest.mark.covers("karras", "init-noise-sigma")
@pytest.mark.parametrize("spacing", SPACINGS)
def test_karras_schedules(equivalence, probes, hidden_seed, spacing):
    for beta_schedule in ("linear", "scaled_linear"):
        equivalence.check("schedule", **SCHEDULE, num_inference_steps=5 + hidden_seed % 25,
                          config={**probes.BASE_CONFIG, "beta_schedule": beta_schedule, "timestep_spacing": spacing,
                                  "use_karras_sigmas": True})


# Both ends inside the scaled-linear training range (0.029 to 14.6), so that t maps back by interpolation.
KARRAS_RANGES = {"both": ("sigma_min", "sigma_max"), "min_only": ("sigma_min",), "max_only": ("sigma_max",)}


@pytest.mark.points(1)
@pytest.mark.covers("karras")
@pytest.mark.parametrize("configured", list(KARRAS_RANGES))
def test_karras_with_configured_range(equivalence, probes, hidden_seed, configured):
    ends = {"sigma_min": 0.05 + hidden_seed % 5 / 10, "sigma_max": 8.0 + hidden_seed % 7}
    equivalence.check("schedule", **SCHEDULE, num_inference_steps=10,
                      config={**probes.BASE_CONFIG, "use_karras_sigmas": True,
                              **{name: ends[name] for name in KARRAS_RANGES[configured]}})


@pytest.mark.points(2)
@pytest.mark.covers("scale-model-input")
@pytest.mark.parametrize("spacing", SPACINGS)
def test_scale_model_input_everywhere(equivalence, probes, hidden_seed, spacing):
    for karras in (False, True):
        equivalence.check("scale_model_input", **STEP, num_inference_steps=9, step_index=hidden_seed % 9,
                          config={**probes.BASE_CONFIG, "timestep_spacing": spacing, "use_karras_sigmas": karras},
                          sample=seeded_randn(probes.SHAPE, hidden_seed, scale=10.0))


@pytest.mark.points(2)
@pytest.mark.covers("prediction-types", "step-index", "return-types", "forbidden")
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_steps(equivalence, probes, hidden_seed, prediction_type):
    for spacing in SPACINGS:
        for step_index in (0, hidden_seed % 10, 9):
            equivalence.check("step", **STEP, config={**probes.BASE_CONFIG, "prediction_type": prediction_type,
                                                      "timestep_spacing": spacing},
                              num_inference_steps=10, step_index=step_index,
                              **probes.random_inputs(hidden_seed, scale=5.0))


# gamma = min(s_churn / 8, sqrt(2) - 1) over 8 steps: the cap is reached from s_churn = 3.32 on.
CHURN_REGIMES = {"below_cap": lambda seed: 0.5 + seed % 25 / 10, "capped": lambda seed: 4.0 + seed % 50}


@pytest.mark.points(2)
@pytest.mark.covers("churn", "churn-noise", "step-index")
@pytest.mark.parametrize("regime", list(CHURN_REGIMES))
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_churn_window_and_noise_scale(equivalence, probes, hidden_seed, prediction_type, regime):
    """s_churn > 0 only adds noise while s_tmin <= sigma <= s_tmax (some of the 8 sigmas are outside),
    scaled by s_noise (never 1)."""
    churn = dict(s_churn=CHURN_REGIMES[regime](hidden_seed), s_tmin=0.3, s_tmax=3.0,
                 s_noise=1.05 + hidden_seed % 5 / 100)
    for step_index in range(8):
        equivalence.check("step", **STEP, config={**probes.BASE_CONFIG, "prediction_type": prediction_type},
                          num_inference_steps=8, step_index=step_index, churn=churn, generator_seed=hidden_seed + 1,
                          **probes.random_inputs(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.covers("churn", "churn-noise")
@pytest.mark.parametrize("window", ["closed-ends", "defaults"])
def test_churn_window_edges(equivalence, probes, hidden_seed, window):
    """closed-ends: s_tmin = s_tmax = the step's sigma, inside the window; defaults: s_tmin, s_tmax and s_noise
    left out (0, inf, 1) at a step whose sigma is below 1."""
    equivalence.check("step", **STEP, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=8,
                      churn=dict(s_churn=1.0 + hidden_seed % 10 / 10), window_at_sigma=window == "closed-ends",
                      generator_seed=hidden_seed + 5, **probes.random_inputs(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.covers("step-index", "scale-model-input")
def test_set_timesteps_again_starts_over(equivalence, probes, hidden_seed):
    """After a begin index and a step, set_timesteps again: the next call finds its index from its timestep."""
    equivalence.check("set_timesteps_again", **STEP, config=probes.BASE_CONFIG, num_inference_steps=10,
                      begin_index=2 + hidden_seed % 5, **probes.random_inputs(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.covers("churn-noise")
def test_churn_with_a_list_of_generators(equivalence, probes, hidden_seed):
    """One generator per batch element, as a pipeline passes them on: randn_tensor draws each row with its own."""
    equivalence.check("step", **STEP, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=2,
                      churn=dict(s_churn=2.0), generator_seed=[hidden_seed + 3, hidden_seed + 4],
                      **probes.random_inputs(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.covers("dtype")
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
def test_low_precision_output_dtype(equivalence, probes, hidden_seed, dtype):
    # judged against float64 truth: within 4x the library's own fp16/bf16 error (+ 1 ulp), never its rounding
    for prediction_type in ("epsilon", "sample"):  # x0 is fp32, or the model output itself
        equivalence.check_against_truth("step", config={**probes.BASE_CONFIG, "prediction_type": prediction_type},
                                        num_inference_steps=10, step_index=4,
                                        **probes.random_inputs(hidden_seed, dtype))


@pytest.mark.points(1)
@pytest.mark.covers("dtype")
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
def test_fp32_sample_with_low_precision_model_output(equivalence, probes, hidden_seed, dtype):
    # prev_sample follows the model output's dtype, not the sample's; float64 truth, as above
    equivalence.check_against_truth("step", config={**probes.BASE_CONFIG, "prediction_type": "v_prediction"},
                                    num_inference_steps=10, step_index=6,
                                    **probes.random_inputs(hidden_seed, torch.float32, model_output_dtype=dtype))


@pytest.mark.points(1)
@pytest.mark.covers("dtype", "churn-noise")
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
def test_low_precision_churn(equivalence, probes, hidden_seed, dtype):
    # float64 truth that adds the very noise the run drew (in the model output's dtype), upcast
    equivalence.check_against_truth("step", truth_inputs={"noise_dtype": dtype}, config=probes.BASE_CONFIG,
                                    num_inference_steps=10, step_index=3, churn=dict(s_churn=3.0),
                                    generator_seed=hidden_seed + 7, **probes.random_inputs(hidden_seed, dtype))


@pytest.mark.points(1)
@pytest.mark.covers("return-types", "step-index")
def test_tuple_return(equivalence, probes, hidden_seed):
    equivalence.check("step", **STEP, config={**probes.BASE_CONFIG, "prediction_type": "v_prediction"},
                      num_inference_steps=10, step_index=hidden_seed % 10, return_dict=False,
                      **probes.random_inputs(hidden_seed))


# Errors accumulate over 10 UNet steps: loops and pipelines are judged against a float64 run (float64 models,
# the same noise): within 4x the library's own error there, plus one ulp.
@pytest.mark.points(3)
@pytest.mark.covers("loop")
def test_full_loop_epsilon(equivalence, probes, hidden_seed):
    equivalence.check_against_truth("denoising_loop", truth_inputs={"dtype": torch.float64},
                                    config={**probes.BASE_CONFIG, "timestep_spacing": "leading"},
                                    num_inference_steps=10, unet_seed=hidden_seed % 1000,
                                    latents=seeded_randn((1, 4, 8, 8), hidden_seed),
                                    text_embeddings=seeded_randn((1, 6, 32), hidden_seed + 1))


@pytest.mark.points(3)
@pytest.mark.covers("loop", "churn-noise")
def test_full_loop_karras_v_prediction_with_churn(equivalence, probes, hidden_seed):
    equivalence.check_against_truth("denoising_loop",
                                    truth_inputs={"dtype": torch.float64, "noise_dtype": torch.float32},
                                    num_inference_steps=10, unet_seed=hidden_seed % 1000,
                                    config={**probes.BASE_CONFIG, "use_karras_sigmas": True,
                                            "prediction_type": "v_prediction", "timestep_spacing": "trailing"},
                                    latents=seeded_randn((1, 4, 8, 8), hidden_seed),
                                    text_embeddings=seeded_randn((1, 6, 32), hidden_seed + 1),
                                    churn=dict(s_churn=2.0, s_tmin=0.1, s_tmax=10.0), generator_seed=hidden_seed + 2)


@pytest.mark.points(3)
@pytest.mark.covers("loop")
def test_tiny_stable_diffusion_pipeline(equivalence, probes, hidden_seed):
    equivalence.check_against_truth("pipeline_images", truth_inputs={"dtype": torch.float64},
                                    config=probes.BASE_CONFIG, prompt="an astronaut riding a horse",
                                    num_inference_steps=3, model_seed=hidden_seed % 997,
                                    latents=seeded_randn((1, 4, 16, 16), hidden_seed))
