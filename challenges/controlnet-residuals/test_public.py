"""Public tests for controlnet-residuals: run them with `diffchallenge test`."""

import pytest

LOOP = dict(rtol=1e-5, atol=1e-4)


@pytest.mark.points(2)
@pytest.mark.parametrize("scheduler", ["ddim", "euler"])
def test_classifier_free_guidance(equivalence, probes, scheduler):
    equivalence.check("denoising_loop", **LOOP, model_seed=0, scheduler=scheduler, num_inference_steps=2,
                      guidance_scale=5.0, **probes.loop_inputs(10))


@pytest.mark.points(2)
def test_conditioning_scale(equivalence, probes):
    equivalence.check("denoising_loop", **LOOP, model_seed=1, scheduler="ddim", num_inference_steps=2,
                      guidance_scale=4.0, controlnet_conditioning_scale=0.4, **probes.loop_inputs(11))


@pytest.mark.points(3)
def test_guess_mode_with_guidance(equivalence, probes):
    equivalence.check("denoising_loop", **LOOP, model_seed=2, scheduler="euler", num_inference_steps=2,
                      guidance_scale=6.0, guess_mode=True, **probes.loop_inputs(12))


@pytest.mark.points(3)
def test_guidance_window(equivalence, probes):
    equivalence.check("denoising_loop", **LOOP, model_seed=3, scheduler="ddim", num_inference_steps=4,
                      guidance_scale=5.0, control_guidance_start=0.25, control_guidance_end=0.75,
                      **probes.loop_inputs(13))
