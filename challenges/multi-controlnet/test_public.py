"""Public tests for multi-controlnet: run them with `diffchallenge test`."""

import pytest

# One step of two nets: a float64 computation differs from MultiControlNetModel's by at most 3.5e-6 (measured
# over 24 inputs, |x| <= 5), under a third of what this tolerance allows there.
RESIDUALS = dict(rtol=1e-5, atol=1e-5)
# The loop is judged against a float64 run of the pipeline (the same models cast to float64): within 4x the
# library's own error there (measured 1.8e-5 to 7.5e-5 on |x| <= 70, 2-4 steps) plus 1 ulp; a float64 loop
# cast back errs <= 2e-6 there, so computing more accurately than the library passes too.
TRUTH = dict(truth_inputs={"dtype": "float64"})


@pytest.mark.points(2)
@pytest.mark.covers("residuals-sum")
@pytest.mark.parametrize("scales", [[1.0, 1.0], [0.6, 1.4]], ids=str)
def test_residuals(equivalence, probes, scales):
    equivalence.check("residuals", **RESIDUALS, model_seed=0, timestep=500, conditioning_scales=scales,
                      guess_mode=False, **probes.residual_inputs(20))


@pytest.mark.points(2)
@pytest.mark.covers("schedulers", "guidance", "float-or-list", "per-net-window")
def test_loop_with_shared_settings(equivalence, probes):
    equivalence.check_against_truth("denoising_loop", **TRUTH, model_seed=1, scheduler="ddim", num_inference_steps=3,
                                    guidance_scale=5.0, controlnet_conditioning_scale=0.8, control_guidance_end=0.7,
                                    **probes.loop_inputs(21))


@pytest.mark.points(3)
@pytest.mark.covers("schedulers", "guidance", "float-or-list", "per-net-window")
def test_loop_with_per_net_scales_and_windows(equivalence, probes):
    equivalence.check_against_truth("denoising_loop", **TRUTH, model_seed=2, scheduler="euler", num_inference_steps=4,
                                    guidance_scale=5.0, controlnet_conditioning_scale=[1.0, 0.5],
                                    control_guidance_start=[0.0, 0.5], control_guidance_end=[0.75, 1.0],
                                    **probes.loop_inputs(22))
