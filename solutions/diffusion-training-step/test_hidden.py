"""Hidden tests for diffusion-training-step: seeds, offsets, gammas and schedule lengths come from the run's
secret; which branches a test reaches (prediction type, an offset or none, a gamma or none) never does."""

import pytest

# See test_public.py: updates differ from a float64 run by one ulp of the weights (1.6e-8), losses by 2e-7.
STEPS = dict(rtol=1e-4, atol=1e-7)


def _seeds(hidden_seed) -> dict:
    return dict(unet_seed=hidden_seed % 997, data_seed=hidden_seed % 991, generator_seed=hidden_seed % 983)


@pytest.mark.points(2)
@pytest.mark.covers("trainable")
def test_trainable_parameters_of_an_sdxl_unet(equivalence, hidden_seed):
    # more transformer layers per block, linear projections: the layers must be found by name
    equivalence.check("trainable_parameters", rtol=0, atol=0, unet_seed=hidden_seed % 997, sdxl=True)


@pytest.mark.points(3)
@pytest.mark.covers("draws", "noise-offset", "mse", "update", "frozen")
def test_noise_offset(equivalence, hidden_seed):
    equivalence.check("training", **STEPS, **_seeds(hidden_seed), prediction_type="epsilon",
                      noise_offset=0.05 + (hidden_seed % 11) / 100)


@pytest.mark.points(3)
@pytest.mark.covers("min-snr", "draws", "update", "frozen", "forbidden")
def test_min_snr_epsilon(equivalence, hidden_seed):
    equivalence.check("training", **STEPS, **_seeds(hidden_seed), prediction_type="epsilon",
                      snr_gamma=1.0 + hidden_seed % 5)


@pytest.mark.points(2)
@pytest.mark.covers("targets", "mse", "update")
def test_v_prediction(equivalence, hidden_seed):
    equivalence.check("training", **STEPS, **_seeds(hidden_seed), prediction_type="v_prediction")


@pytest.mark.points(3)
@pytest.mark.covers("targets", "noise-offset", "min-snr", "draws", "update", "frozen")
def test_v_prediction_with_offset_and_min_snr(equivalence, hidden_seed):
    equivalence.check("training", **STEPS, **_seeds(hidden_seed), prediction_type="v_prediction",
                      noise_offset=0.1 + (hidden_seed % 7) / 100, snr_gamma=0.5 + hidden_seed % 4)


@pytest.mark.points(2)
@pytest.mark.covers("draws", "noisy-latents", "min-snr")
def test_shorter_schedule(equivalence, hidden_seed):
    # timesteps in [0, num_train_timesteps) and the schedule's own alphas_cumprod
    equivalence.check("training", **STEPS, **_seeds(hidden_seed), prediction_type="epsilon",
                      num_train_timesteps=200 + hidden_seed % 600, snr_gamma=5.0)


@pytest.mark.points(2)
@pytest.mark.covers("unknown-type")
def test_unknown_prediction_type_raises(equivalence):
    # names either side of "epsilon" and "v_prediction" in string order, and one diffusers knows but the script does not
    for prediction_type in ("eps", "velocity", "sample"):
        equivalence.check("unknown_prediction_type", rtol=0, atol=0, prediction_type=prediction_type)
