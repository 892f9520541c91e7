"""Public tests for controlnet-residuals: run them with `diffchallenge test`."""

import pytest

# The loop is judged against a float64 run of the pipeline (the same models cast to float64): within 4x the
# library's own error there (measured 1.4e-5 to 8.6e-5 on |x| <= 70, 2-4 steps) plus 1 ulp; a float64 loop
# cast back errs <= 1.9e-6 there, so computing more accurately than the library passes too.
TRUTH = dict(truth_inputs={"dtype": "float64"})


@pytest.mark.points(2)
@pytest.mark.covers("schedulers", "residuals", "guidance")
@pytest.mark.parametrize("scheduler", ["ddim", "euler"])
def test_classifier_free_guidance(equivalence, probes, scheduler):
    equivalence.check_against_truth("denoising_loop", **TRUTH, model_seed=0, scheduler=scheduler,
                                    num_inference_steps=2, guidance_scale=5.0, **probes.loop_inputs(10))


@pytest.mark.points(2)
@pytest.mark.covers("conditioning-scale")
def test_conditioning_scale(equivalence, probes):
    equivalence.check_against_truth("denoising_loop", **TRUTH, model_seed=1, scheduler="ddim", num_inference_steps=2,
                                    guidance_scale=4.0, controlnet_conditioning_scale=0.4, **probes.loop_inputs(11))


@pytest.mark.points(3)
@pytest.mark.covers("guess-mode-guided")
def test_guess_mode_with_guidance(equivalence, probes):
    equivalence.check_against_truth("denoising_loop", **TRUTH, model_seed=2, scheduler="euler", num_inference_steps=2,
                                    guidance_scale=6.0, guess_mode=True, **probes.loop_inputs(12))


@pytest.mark.points(3)
@pytest.mark.covers("guidance-window")
def test_guidance_window(equivalence, probes):
    equivalence.check_against_truth("denoising_loop", **TRUTH, model_seed=3, scheduler="ddim", num_inference_steps=4,
                                    guidance_scale=5.0, control_guidance_start=0.25, control_guidance_end=0.75,
                                    **probes.loop_inputs(13))
