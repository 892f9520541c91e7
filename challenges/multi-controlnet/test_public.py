"""Public tests for multi-controlnet: run them with `diffchallenge test`."""

import pytest

RESIDUALS = dict(rtol=1e-5, atol=1e-5)
LOOP = dict(rtol=1e-5, atol=1e-4)


@pytest.mark.points(2)
@pytest.mark.parametrize("scales", [[1.0, 1.0], [0.6, 1.4]], ids=str)
def test_residuals(equivalence, probes, scales):
    equivalence.check("residuals", **RESIDUALS, model_seed=0, timestep=500, conditioning_scales=scales,
                      **probes.residual_inputs(20))


@pytest.mark.points(2)
def test_loop_with_shared_settings(equivalence, probes):
    equivalence.check("denoising_loop", **LOOP, model_seed=1, scheduler="ddim", num_inference_steps=3,
                      guidance_scale=5.0, controlnet_conditioning_scale=0.8, control_guidance_end=0.7,
                      **probes.loop_inputs(21))


@pytest.mark.points(3)
def test_loop_with_per_net_scales_and_windows(equivalence, probes):
    equivalence.check("denoising_loop", **LOOP, model_seed=2, scheduler="euler", num_inference_steps=4,
                      guidance_scale=5.0, controlnet_conditioning_scale=[1.0, 0.5],
                      control_guidance_start=[0.0, 0.5], control_guidance_end=[0.75, 1.0], **probes.loop_inputs(22))
