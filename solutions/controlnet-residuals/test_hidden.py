"""Hidden tests for controlnet-residuals: inputs come from the run's secret seed."""

import pytest

LOOP = dict(rtol=1e-5, atol=1e-4)


def _fraction(seed, low, high):
    """A guidance-window bound drawn from the seed, away from the step boundaries of a 4-step schedule."""
    return low + (high - low) * (seed % 1000) / 1000


@pytest.mark.points(2)
def test_batch_with_scale(equivalence, probes, hidden_seed):
    equivalence.check("denoising_loop", **LOOP, model_seed=hidden_seed % 997, scheduler="euler",
                      num_inference_steps=2, guidance_scale=3.0 + hidden_seed % 5,
                      controlnet_conditioning_scale=_fraction(hidden_seed, 0.3, 1.5),
                      **probes.loop_inputs(hidden_seed, batch=2))


@pytest.mark.points(2)
def test_guess_mode_without_guidance(equivalence, probes, hidden_seed):
    equivalence.check("denoising_loop", **LOOP, model_seed=hidden_seed % 991, scheduler="euler",
                      num_inference_steps=2, guidance_scale=1.0, guess_mode=True, **probes.loop_inputs(hidden_seed))


@pytest.mark.points(3)
def test_guess_mode_batch_and_scale(equivalence, probes, hidden_seed):
    equivalence.check("denoising_loop", **LOOP, model_seed=hidden_seed % 983, scheduler="ddim",
                      num_inference_steps=2, guidance_scale=7.5, guess_mode=True,
                      controlnet_conditioning_scale=_fraction(hidden_seed, 0.5, 1.2),
                      **probes.loop_inputs(hidden_seed, batch=2))


@pytest.mark.points(3)
@pytest.mark.parametrize("window", ["late-start", "early-end"])
def test_guidance_windows(equivalence, probes, hidden_seed, window):
    bounds = dict(control_guidance_start=_fraction(hidden_seed, 0.3, 0.45)) if window == "late-start" \
        else dict(control_guidance_end=_fraction(hidden_seed, 0.55, 0.7))
    equivalence.check("denoising_loop", **LOOP, model_seed=hidden_seed % 977, scheduler="euler",
                      num_inference_steps=4, guidance_scale=5.0, guess_mode=window == "early-end",
                      **bounds, **probes.loop_inputs(hidden_seed))
