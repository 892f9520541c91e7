"""Hidden tests for multi-controlnet: inputs come from the run's secret seed."""

import pytest

RESIDUALS = dict(rtol=1e-5, atol=1e-5)
LOOP = dict(rtol=1e-5, atol=1e-4)


def _fraction(seed, low, high):
    """A value drawn from the seed; window bounds stay away from the step boundaries of a 4-step schedule."""
    return low + (high - low) * (seed % 1000) / 1000


@pytest.mark.points(2)
def test_residuals_in_guess_mode(equivalence, probes, hidden_seed):
    equivalence.check("residuals", **RESIDUALS, model_seed=hidden_seed % 997, timestep=1 + hidden_seed % 999,
                      conditioning_scales=[_fraction(hidden_seed, 0.3, 1.0), _fraction(hidden_seed // 7, 0.5, 1.5)],
                      guess_mode=True, **probes.residual_inputs(hidden_seed, batch=1))


@pytest.mark.points(3)
def test_loop_broadcasts_a_single_start(equivalence, probes, hidden_seed):
    equivalence.check("denoising_loop", **LOOP, model_seed=hidden_seed % 991, scheduler="euler",
                      num_inference_steps=4, guidance_scale=4.0,
                      controlnet_conditioning_scale=[_fraction(hidden_seed, 0.5, 1.5), 0.9],
                      control_guidance_start=_fraction(hidden_seed, 0.3, 0.45),
                      control_guidance_end=[1.0, _fraction(hidden_seed, 0.55, 0.7)],
                      **probes.loop_inputs(hidden_seed, batch=2))


@pytest.mark.points(3)
def test_loop_guess_mode_with_guidance(equivalence, probes, hidden_seed):
    equivalence.check("denoising_loop", **LOOP, model_seed=hidden_seed % 983, scheduler="ddim",
                      num_inference_steps=4, guidance_scale=6.0, guess_mode=True,
                      controlnet_conditioning_scale=[0.7, _fraction(hidden_seed, 0.8, 1.3)],
                      control_guidance_start=[_fraction(hidden_seed, 0.3, 0.45), 0.0],
                      control_guidance_end=[1.0, _fraction(hidden_seed, 0.55, 0.7)], **probes.loop_inputs(hidden_seed))


@pytest.mark.points(2)
def test_loop_without_guidance(equivalence, probes, hidden_seed):
    equivalence.check("denoising_loop", **LOOP, model_seed=hidden_seed % 977, scheduler="euler",
                      num_inference_steps=3, guidance_scale=1.0, controlnet_conditioning_scale=[1.2, 0.6],
                      control_guidance_end=[_fraction(hidden_seed, 0.4, 0.6), 1.0], **probes.loop_inputs(hidden_seed))
