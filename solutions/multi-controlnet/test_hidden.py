"""Hidden tests for multi-controlnet: inputs come from the run's secret seed; the branches each test reaches
(scheduler, guidance on or off, guess mode, float or list options, which steps each net's window keeps) never
depend on it."""

import pytest

# See test_public.py: one step measured within a third of this tolerance for a float64 computation.
RESIDUALS = dict(rtol=1e-5, atol=1e-5)
# Judged against a float64 run of the pipeline: see test_public.py (4x the library's error, measured 1.8e-5
# to 7.5e-5 on |x| <= 70, + 1 ulp; a float64 loop errs <= 2e-6).
TRUTH = dict(truth_inputs={"dtype": "float64"})


def _fraction(seed, low, high):
    """A value drawn from the seed in [low, high); window bounds stay away from the step boundaries of the
    test's schedule, so that the steps a window keeps never depend on the seed."""
    return low + (high - low) * (seed % 1000) / 1000


@pytest.mark.points(2)
@pytest.mark.covers("residuals-sum", "residuals-guess-mode")
def test_residuals_in_guess_mode(equivalence, probes, hidden_seed):
    equivalence.check("residuals", **RESIDUALS, model_seed=hidden_seed % 997, timestep=1 + hidden_seed % 999,
                      conditioning_scales=[_fraction(hidden_seed, 0.3, 1.0), _fraction(hidden_seed // 7, 0.5, 1.5)],
                      guess_mode=True, **probes.residual_inputs(hidden_seed, batch=1))


@pytest.mark.points(2)
@pytest.mark.covers("residuals-sum", "residuals-guess-mode", "shapes")
def test_residuals_default_guess_mode_non_square(equivalence, probes, hidden_seed):
    # guess_mode left out (False); a batch of 2, 8x12 latents and 16x24 control images
    equivalence.check("residuals", **RESIDUALS, model_seed=hidden_seed % 991, timestep=1 + hidden_seed % 999,
                      conditioning_scales=[_fraction(hidden_seed // 7, 0.5, 1.5), _fraction(hidden_seed, 0.3, 1.0)],
                      **probes.residual_inputs(hidden_seed, batch=2, size=16, width=24))


@pytest.mark.points(3)
@pytest.mark.covers("schedulers", "guidance", "float-or-list", "per-net-window")
def test_loop_broadcasts_a_single_start(equivalence, probes, hidden_seed):
    # 4 steps; a float start for both nets, a list of ends: net 1 keeps steps 1 to 3, net 2 step 1 alone (an end
    # that drops a step before the last); guidance between 1 and 2 is on
    equivalence.check_against_truth("denoising_loop", **TRUTH, model_seed=hidden_seed % 991, scheduler="euler",
                                    num_inference_steps=4, guidance_scale=_fraction(hidden_seed, 1.2, 1.8),
                                    controlnet_conditioning_scale=[_fraction(hidden_seed, 0.5, 1.5), 0.9],
                                    control_guidance_start=_fraction(hidden_seed, 0.1, 0.2),
                                    control_guidance_end=[1.0, _fraction(hidden_seed, 0.55, 0.7)],
                                    **probes.loop_inputs(hidden_seed))


@pytest.mark.points(3)
@pytest.mark.covers("schedulers", "guess-mode", "float-or-list", "per-net-window")
def test_loop_guess_mode_broadcasts_a_single_end(equivalence, probes, hidden_seed):
    # 3 steps; a list of starts, a float end on a step boundary (2 / 3 is the very float (1 + 1) / 3 is, so
    # equality is included): net 1 keeps step 1, net 2 steps 0 and 1
    equivalence.check_against_truth("denoising_loop", **TRUTH, model_seed=hidden_seed % 983, scheduler="ddim",
                                    num_inference_steps=3, guidance_scale=6.0, guess_mode=True,
                                    controlnet_conditioning_scale=[0.7, _fraction(hidden_seed, 0.8, 1.3)],
                                    control_guidance_start=[_fraction(hidden_seed, 0.2, 0.3), 0.0],
                                    control_guidance_end=2 / 3, **probes.loop_inputs(hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("no-guidance", "float-or-list", "per-net-window")
def test_loop_without_guidance(equivalence, probes, hidden_seed):
    # guidance 1.0; 2 steps, lists of starts and ends: net 1 keeps step 0, net 2 step 1
    equivalence.check_against_truth("denoising_loop", **TRUTH, model_seed=hidden_seed % 977, scheduler="euler",
                                    num_inference_steps=2, guidance_scale=1.0, controlnet_conditioning_scale=[1.2, 0.6],
                                    control_guidance_start=[0.0, _fraction(hidden_seed, 0.1, 0.45)],
                                    control_guidance_end=[_fraction(hidden_seed, 0.55, 0.95), 1.0],
                                    **probes.loop_inputs(hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("no-guidance", "guess-mode", "float-or-list", "per-net-window")
def test_loop_below_one_in_guess_mode(equivalence, probes, hidden_seed):
    # guidance below 1 (none) in guess mode; 2 steps, one float of each for both nets, the end on a step
    # boundary (equality included): both nets keep step 0
    equivalence.check_against_truth("denoising_loop", **TRUTH, model_seed=hidden_seed % 971, scheduler="ddim",
                                    num_inference_steps=2, guidance_scale=_fraction(hidden_seed, 0.2, 0.9),
                                    guess_mode=True, controlnet_conditioning_scale=_fraction(hidden_seed, 0.6, 1.4),
                                    control_guidance_start=0.0, control_guidance_end=0.5,
                                    **probes.loop_inputs(hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("defaults", "shapes", "guidance", "forbidden")
def test_loop_defaults_non_square(equivalence, probes, hidden_seed):
    # no options: guidance 7.5, scale 1.0 and the whole schedule for both nets, no guess mode; a batch of 2,
    # 8x12 latents
    equivalence.check_against_truth("denoising_loop", **TRUTH, model_seed=hidden_seed % 967, scheduler="ddim",
                                    num_inference_steps=2,
                                    **probes.loop_inputs(hidden_seed, batch=2, size=16, width=24))
