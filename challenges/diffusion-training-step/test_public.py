"""Public tests for diffusion-training-step: run them with `diffchallenge test`."""

import pytest

# Measured against the same two steps in float64 (draws in fp32): the weights' updates (up to 1.7e-3) differ by
# at most 1.6e-8, one ulp of the weights they are the difference of, and the losses by 2e-7 relative; timesteps
# and the lists of parameter names must be equal.
STEPS = dict(rtol=1e-4, atol=1e-7)


@pytest.mark.points(2)
@pytest.mark.covers("trainable")
def test_trainable_parameters(equivalence):
    equivalence.check("trainable_parameters", rtol=0, atol=0, unet_seed=0)


@pytest.mark.points(3)
@pytest.mark.covers("draws", "noisy-latents", "targets", "mse", "update", "frozen", "forbidden")
def test_epsilon_steps(equivalence):
    equivalence.check("training", **STEPS, unet_seed=1, data_seed=10, generator_seed=100, prediction_type="epsilon")


@pytest.mark.points(3)
@pytest.mark.covers("targets", "min-snr", "update", "frozen", "forbidden")
def test_v_prediction_with_min_snr(equivalence):
    equivalence.check("training", **STEPS, unet_seed=2, data_seed=20, generator_seed=200,
                      prediction_type="v_prediction", snr_gamma=5.0)
