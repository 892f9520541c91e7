"""Hidden tests for ddim-step: inputs come from the run's secret seed."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

STEP = dict(rtol=1e-5, atol=1e-5)


@pytest.mark.points(2)
@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
def test_timestep_spacings(equivalence, probes, hidden_seed, spacing):
    for prediction_type in ("epsilon", "v_prediction"):
        # step_index is never the last step, where every spacing agrees
        equivalence.check("step", **STEP, num_inference_steps=7, step_index=hidden_seed % 6,
                          config={**probes.BASE_CONFIG, "timestep_spacing": spacing,
                                  "prediction_type": prediction_type}, **probes.random_inputs(hidden_seed))


@pytest.mark.points(2)
@pytest.mark.parametrize("set_alpha_to_one", [True, False])
def test_final_step_alpha(equivalence, probes, hidden_seed, set_alpha_to_one):
    equivalence.check("step", **STEP, num_inference_steps=10, step_index=9,
                      config={**probes.BASE_CONFIG, "set_alpha_to_one": set_alpha_to_one, "steps_offset": 0},
                      **probes.random_inputs(hidden_seed))


@pytest.mark.points(2)
def test_eta_with_generator(equivalence, probes, hidden_seed):
    equivalence.check("step", **STEP, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=2, eta=1.0,
                      generator_seed=hidden_seed + 5, **probes.random_inputs(hidden_seed))


@pytest.mark.points(2)
def test_clip_sample_and_clipped_model_output(equivalence, probes, hidden_seed):
    for use_clipped in (False, True):
        equivalence.check("step", **STEP, config={**probes.BASE_CONFIG, "clip_sample": True, "clip_sample_range": 0.8},
                          num_inference_steps=10, step_index=1, eta=0.5, use_clipped_model_output=use_clipped,
                          variance_noise=seeded_randn(probes.SHAPE, hidden_seed + 3),
                          **probes.random_inputs(hidden_seed))


@pytest.mark.points(2)
def test_dynamic_thresholding(equivalence, probes, hidden_seed):
    equivalence.check("step", **STEP, num_inference_steps=10, step_index=4,
                      config={**probes.BASE_CONFIG, "thresholding": True, "dynamic_thresholding_ratio": 0.9,
                              "sample_max_value": 2.5, "prediction_type": "sample"},
                      **probes.random_inputs(hidden_seed, scale=3.0))


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16], ids=str)
def test_dtype_preserved(equivalence, probes, hidden_seed, dtype):
    tolerance = STEP if dtype == torch.float64 else dict(rtol=1e-2, atol=1e-2)
    equivalence.check("step", **tolerance, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=3, eta=0.3,
                      variance_noise=seeded_randn(probes.SHAPE, hidden_seed, dtype),
                      **probes.random_inputs(hidden_seed, dtype))


@pytest.mark.points(3)
def test_full_loop_with_unet(equivalence, probes, hidden_seed):
    equivalence.check("denoising_loop", rtol=1e-5, atol=1e-4, config=probes.BASE_CONFIG, num_inference_steps=10,
                      unet_seed=hidden_seed % 1000, latents=seeded_randn((1, 4, 8, 8), hidden_seed),
                      text_embeddings=seeded_randn((1, 6, 32), hidden_seed + 1), eta=0.4,
                      generator_seed=hidden_seed + 2)


@pytest.mark.points(3)
def test_tiny_stable_diffusion_pipeline(equivalence, hidden_seed):
    equivalence.check("pipeline_images", rtol=0, atol=1e-4, config={"steps_offset": 1, "clip_sample": False},
                      prompt="an astronaut riding a horse", num_inference_steps=4, model_seed=hidden_seed % 997,
                      seed=hidden_seed)
