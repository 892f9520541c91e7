"""Public tests for cfg-sampling-loop: run them with `diffchallenge test`."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

# measured: a float64 rescale differs from the library's by <= 1e-6 on |x| ~ 12, 1/70 of this tolerance
RESCALE = dict(rtol=1e-5, atol=1e-5)
# The loop is judged against a float64 run of the pipeline (same noise, drawn in float32): within 4x the
# library's own error there (measured 1e-6 to 9e-5 on |x| <= 60, 2-4 steps), so float64 math passes too.
TRUTH = dict(truth_inputs={"dtype": "float64"})
SMALL = dict(height=16, width=16)  # 8 x 8 latents: the UNet costs a third of the default 32 px


@pytest.mark.points(2)
@pytest.mark.covers("rescale-any-rank", "rescale-mix")
def test_rescale_noise_cfg(equivalence):
    equivalence.check("rescale", **RESCALE, noise_cfg=seeded_randn((2, 4, 8, 8), 0, scale=3.0),
                      noise_pred_text=seeded_randn((2, 4, 8, 8), 1), guidance_rescale=0.7)


@pytest.mark.points(3)
@pytest.mark.covers("schedulers", "guidance")
def test_ddim_with_guidance(equivalence):
    equivalence.check_against_truth("generate", **TRUTH, **SMALL,
                                    scheduler="ddim", model_seed=0, prompt="a photo of a cat",
                                    seed=1, guidance_scale=7.5, num_inference_steps=3)


@pytest.mark.points(3)
@pytest.mark.covers("schedulers", "initial-latents", "timestep-spacings")
def test_euler_init_noise_sigma_and_scaling(equivalence):
    equivalence.check_against_truth("generate", **TRUTH, **SMALL,
                                    scheduler="euler", model_seed=0, prompt="a photo of a cat",
                                    seed=2, guidance_scale=5.0, spacing="linspace",
                                    num_inference_steps=3)
