"""Hidden tests for ddim-step: inputs come from the run's secret seed; every branch is pinned by the test's id."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

# One fp32 step: a float64 step, cast back, differs from the library by at most 0.16 of this (measured).
STEP = dict(rtol=1e-5, atol=1e-5)
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
LOW_PRECISION = [torch.float16, torch.bfloat16]


@pytest.mark.points(2)
@pytest.mark.covers("prediction-types", "prev-timestep", "eta-zero", "return-types", "forbidden")
@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
def test_timestep_spacings(equivalence, probes, hidden_seed, spacing):
    for prediction_type in PREDICTION_TYPES:
        # Step 4 of 7, pinned: at the last step every spacing agrees, and at trailing's step 3 the next entry of
        # the schedule happens to be t - T // n as well, so a secret must not pick the step.
        equivalence.check("step", **STEP, num_inference_steps=7, step_index=4,
                          config={**probes.BASE_CONFIG, "timestep_spacing": spacing,
                                  "prediction_type": prediction_type}, **probes.random_inputs(hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("prev-timestep")
def test_other_training_schedule(equivalence, probes, hidden_seed):
    """num_train_timesteps = 500: the previous timestep is t - 500 // n, never t - 1000 // n."""
    config = {**probes.BASE_CONFIG, "num_train_timesteps": 500, "beta_schedule": "linear", "beta_start": 0.0001,
              "beta_end": 0.02, "steps_offset": 0}
    for step_index in (0, 1 + hidden_seed % 7):
        equivalence.check("step", **STEP, config=config, num_inference_steps=9, step_index=step_index,
                          **probes.random_inputs(hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("final-alpha")
@pytest.mark.parametrize("set_alpha_to_one", [True, False])
def test_final_step_alpha(equivalence, probes, hidden_seed, set_alpha_to_one):
    equivalence.check("step", **STEP, num_inference_steps=10, step_index=9,
                      config={**probes.BASE_CONFIG, "set_alpha_to_one": set_alpha_to_one, "steps_offset": 0},
                      **probes.random_inputs(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.covers("final-alpha", "prev-timestep")
@pytest.mark.parametrize("spacing, step_index", [("leading", 8), ("trailing", 9)], ids=["to-zero", "to-minus-one"])
def test_previous_timestep_at_the_boundary(equivalence, probes, hidden_seed, spacing, step_index):
    """10 of 1000 steps, no offset: leading steps from 100 to exactly 0 (alphas_cumprod[0]), trailing from 99 to
    exactly -1 (the final alpha, 1 here, not alphas_cumprod[-1])."""
    equivalence.check("step", **STEP, num_inference_steps=10, step_index=step_index,
                      config={**probes.BASE_CONFIG, "set_alpha_to_one": True, "steps_offset": 0,
                              "timestep_spacing": spacing}, **probes.random_inputs(hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("eta-noise")
def test_eta_with_generator(equivalence, probes, hidden_seed):
    equivalence.check("step", **STEP, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=2, eta=1.0,
                      generator_seed=hidden_seed + 5, **probes.random_inputs(hidden_seed))


@pytest.mark.points(1)
@pytest.mark.covers("eta-noise")
def test_eta_with_a_list_of_generators(equivalence, probes, hidden_seed):
    """One generator per batch element, as a pipeline passes them on: randn_tensor draws each row with its own."""
    equivalence.check("step", **STEP, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=4, eta=0.6,
                      generator_seed=[hidden_seed + 11, hidden_seed + 12],
                      **probes.random_inputs(hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("clip-sample", "clipped-model-output", "eta-noise")
def test_clip_sample_and_clipped_model_output(equivalence, probes, hidden_seed):
    for use_clipped in (None, True):  # None: left out, its default (False)
        equivalence.check("step", **STEP, config={**probes.BASE_CONFIG, "clip_sample": True, "clip_sample_range": 0.8},
                          num_inference_steps=10, step_index=1, eta=0.5, use_clipped_model_output=use_clipped,
                          variance_noise=seeded_randn(probes.SHAPE, hidden_seed + 3),
                          **probes.random_inputs(hidden_seed))


# Which side of the clamp s = clamp(quantile(|x0|, 0.9), 1, sample_max_value) lands on: |x0| ~ N(0, scale^2),
# so its 0.9 quantile is about 1.645 * scale.
THRESHOLD_REGIMES = {
    "quantile": dict(scale=3.0, sample_max_value=10.0),  # s ~ 4.9, inside (1, 10)
    "max": dict(scale=3.0, sample_max_value=2.5),  # s clamped to sample_max_value
    "one": dict(scale=0.5, sample_max_value=2.5),  # s ~ 0.8 clamped up to 1: plain clipping to [-1, 1]
}


@pytest.mark.points(1)
@pytest.mark.covers("thresholding")
@pytest.mark.parametrize("regime", list(THRESHOLD_REGIMES))
def test_dynamic_thresholding(equivalence, probes, hidden_seed, regime):
    scale, sample_max_value = THRESHOLD_REGIMES[regime]["scale"], THRESHOLD_REGIMES[regime]["sample_max_value"]
    equivalence.check("step", **STEP, num_inference_steps=10, step_index=4,
                      config={**probes.BASE_CONFIG, "thresholding": True, "dynamic_thresholding_ratio": 0.9,
                              "sample_max_value": sample_max_value, "prediction_type": "sample"},
                      **probes.random_inputs(hidden_seed, scale=scale, shape=probes.NON_SQUARE))


@pytest.mark.points(1)
@pytest.mark.covers("dtype")
def test_float64_preserved(equivalence, probes, hidden_seed):
    equivalence.check("step", **STEP, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=3, eta=0.3,
                      variance_noise=seeded_randn(probes.SHAPE, hidden_seed, torch.float64),
                      **probes.random_inputs(hidden_seed, torch.float64))


@pytest.mark.points(1)
@pytest.mark.covers("dtype", "eta-noise")
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
def test_low_precision_preserved(equivalence, probes, hidden_seed, dtype):
    # judged against float64 truth: within 4x the library's own fp16/bf16 error (+ 1 ulp), never its rounding
    equivalence.check_against_truth("step", config=probes.BASE_CONFIG, num_inference_steps=10, step_index=3,
                                    eta=0.3, variance_noise=seeded_randn(probes.SHAPE, hidden_seed, dtype),
                                    **probes.random_inputs(hidden_seed, dtype))


@pytest.mark.points(1)
@pytest.mark.covers("dtype", "thresholding")
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
def test_low_precision_thresholding(equivalence, probes, hidden_seed, dtype):
    # float64 truth, as above; the library thresholds an fp16/bf16 x0 in fp32 and casts it back
    equivalence.check_against_truth("step", num_inference_steps=10, step_index=3,
                                    config={**probes.BASE_CONFIG, "thresholding": True, "sample_max_value": 3.0},
                                    **probes.random_inputs(hidden_seed, dtype, scale=2.0))


@pytest.mark.points(1)
@pytest.mark.covers("return-types")
def test_tuple_return(equivalence, probes, hidden_seed):
    equivalence.check("step", **STEP, config={**probes.BASE_CONFIG, "prediction_type": "v_prediction"},
                      num_inference_steps=10, step_index=hidden_seed % 9, return_dict=False,
                      **probes.random_inputs(hidden_seed))


@pytest.mark.points(3)
@pytest.mark.covers("loop", "eta-noise", "forbidden")
def test_full_loop_with_unet(equivalence, probes, hidden_seed):
    # errors accumulate over 10 UNet steps: judged against a float64 run (float64 UNet, the same noise)
    equivalence.check_against_truth("denoising_loop", truth_inputs={"dtype": torch.float64},
                                    config=probes.BASE_CONFIG, num_inference_steps=10, unet_seed=hidden_seed % 1000,
                                    latents=seeded_randn((1, 4, 8, 8), hidden_seed),
                                    text_embeddings=seeded_randn((1, 6, 32), hidden_seed + 1), eta=0.4,
                                    generator_seed=hidden_seed + 2)


@pytest.mark.points(3)
@pytest.mark.covers("loop")
def test_tiny_stable_diffusion_pipeline(equivalence, hidden_seed):
    # a whole pipeline (text encoder, 4 UNet steps with guidance, VAE): judged against the pipeline in float64
    equivalence.check_against_truth("pipeline_images", truth_inputs={"dtype": torch.float64},
                                    config={"steps_offset": 1, "clip_sample": False},
                                    prompt="an astronaut riding a horse", num_inference_steps=4,
                                    model_seed=hidden_seed % 997, latents=seeded_randn((1, 4, 16, 16), hidden_seed))
