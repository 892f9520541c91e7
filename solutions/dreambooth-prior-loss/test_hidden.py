"""Hidden tests for dreambooth-prior-loss: batch sizes, spatial sizes, timesteps, prior weights and data come from
the run's secret seed (values only: every prediction type, layout, dtype and option is pinned by the test)."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

# fp32: see test_public.py (a float64 computation cast back: losses exact, gradient within 2.4e-7 relative).
LOSS = dict(rtol=1e-5, atol=1e-7)
# The tiny UNet's prediction moves by about 1e-6 with the thread count (worker or grader): far inside rtol for the
# losses, and 2e-6 / N (N = 512 elements) for the gradient, inside atol.
UNET_LOSS = dict(rtol=1e-5, atol=1e-7)
PREDICTION_TYPES = ["epsilon", "v_prediction"]


def _shape(hidden_seed):
    """Instances per batch (as many class examples follow), height and width: odd and unequal sizes included."""
    return 1 + hidden_seed % 3, 3 + hidden_seed % 6, 4 + hidden_seed % 5


def _batch(probes, hidden_seed, channels=4, output_channels=None, dtype=torch.float32, prior=True):
    instances, height, width = _shape(hidden_seed)
    examples = 2 * instances if prior else 2 * instances + 1
    return probes.batch(hidden_seed, examples, channels, height, width, output_channels, dtype)


def _prior_loss_weight(hidden_seed):
    """Never 1: a weight on the wrong loss must show."""
    return 0.1 + hidden_seed % 8 / 10 if hidden_seed % 2 else 1.5 + hidden_seed % 7 / 2


def _schedule(probes, hidden_seed):
    return probes.alphas_cumprod(num_train_timesteps=1000, beta_end=0.01 + hidden_seed % 5 / 1000)


@pytest.mark.points(3)
@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
@pytest.mark.covers("epsilon-target", "v-target", "prior-split", "prior-weight", "gradient", "forbidden")
def test_prior_preservation(equivalence, probes, hidden_seed, prediction_type):
    equivalence.check("loss", **LOSS, alphas_cumprod=_schedule(probes, hidden_seed), prediction_type=prediction_type,
                      prior_loss_weight=_prior_loss_weight(hidden_seed), **_batch(probes, hidden_seed))


@pytest.mark.points(1)
@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
@pytest.mark.covers("prior-weight", "prior-split")
def test_zero_prior_weight(equivalence, probes, hidden_seed, prediction_type):
    """The prior loss is still reported; it adds nothing to the loss."""
    equivalence.check("loss", **LOSS, alphas_cumprod=_schedule(probes, hidden_seed), prediction_type=prediction_type,
                      prior_loss_weight=0.0, **_batch(probes, hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("defaults", "epsilon-target", "prior-weight")
def test_defaults(equivalence, probes, hidden_seed):
    """Only the tensors: epsilon, with prior preservation, prior_loss_weight 1.0."""
    equivalence.check("loss", **LOSS, alphas_cumprod=_schedule(probes, hidden_seed), **_batch(probes, hidden_seed))


@pytest.mark.points(2)
@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
@pytest.mark.covers("no-prior", "epsilon-target", "v-target", "gradient")
def test_without_prior_preservation(equivalence, probes, hidden_seed, prediction_type):
    """An odd batch, and a prior_loss_weight that must be ignored."""
    equivalence.check("loss", **LOSS, alphas_cumprod=_schedule(probes, hidden_seed), prediction_type=prediction_type,
                      with_prior_preservation=False, prior_loss_weight=_prior_loss_weight(hidden_seed),
                      **_batch(probes, hidden_seed, prior=False))


@pytest.mark.points(2)
@pytest.mark.parametrize("channels", [3, 4], ids=["pixels_3_to_6", "latents_4_to_8"])
@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
@pytest.mark.covers("learned-variance", "gradient")
def test_learned_variance(equivalence, probes, hidden_seed, prediction_type, channels):
    equivalence.check("loss", **LOSS, alphas_cumprod=_schedule(probes, hidden_seed), prediction_type=prediction_type,
                      prior_loss_weight=_prior_loss_weight(hidden_seed),
                      **_batch(probes, hidden_seed, channels, output_channels=2 * channels))


@pytest.mark.points(1)
@pytest.mark.covers("learned-variance", "no-prior")
def test_learned_variance_without_prior(equivalence, probes, hidden_seed):
    equivalence.check("loss", **LOSS, alphas_cumprod=_schedule(probes, hidden_seed), prediction_type="v_prediction",
                      with_prior_preservation=False, **_batch(probes, hidden_seed, 3, output_channels=6, prior=False))


@pytest.mark.points(2)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
@pytest.mark.covers("float32-loss", "epsilon-target", "v-target", "gradient")
def test_low_precision(equivalence, probes, hidden_seed, prediction_type, dtype):
    """fp16/bf16 model output, latents and noise: judged against the same computation in float64 (within 4 times
    the script's own error there, plus one ulp; measured use at most 22%), so a v target computed in the inputs'
    dtype, in fp32 or in fp64 passes. The losses are fp32, the gradient has the model output's dtype."""
    equivalence.check_against_truth("loss", alphas_cumprod=_schedule(probes, hidden_seed),
                                    prediction_type=prediction_type, prior_loss_weight=_prior_loss_weight(hidden_seed),
                                    **_batch(probes, hidden_seed, output_channels=8, dtype=dtype))


@pytest.mark.points(1)
@pytest.mark.parametrize("prediction_type", ["sample", "eps", "velocity"])
@pytest.mark.covers("unknown-prediction-type")
def test_unknown_prediction_type(equivalence, probes, hidden_seed, prediction_type):
    """The script's own refusal ("sample"), and near-misses of either name: nothing but the exact names is accepted."""
    equivalence.check("refusal", rtol=0, atol=0, prediction_type=prediction_type,
                      alphas_cumprod=_schedule(probes, hidden_seed), **_batch(probes, hidden_seed))


@pytest.mark.points(3)
@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
@pytest.mark.covers("unet-batch")
def test_dreambooth_step_with_unet(equivalence, probes, hidden_seed, prediction_type):
    instances, _, _ = _shape(hidden_seed)
    shape = (instances, 4, 8, 8)
    timesteps = torch.randint(0, 1000, (2 * instances,), generator=torch.Generator().manual_seed(hidden_seed))
    equivalence.check("dreambooth_step", **UNET_LOSS, unet_seed=hidden_seed % 1000,
                      instance_latents=seeded_randn(shape, hidden_seed),
                      class_latents=seeded_randn(shape, hidden_seed + 1),
                      noise=seeded_randn((2 * instances, 4, 8, 8), hidden_seed + 2), timesteps=timesteps,
                      instance_embeddings=seeded_randn((instances, probes.TEXT_TOKENS, 32), hidden_seed + 3),
                      class_embeddings=seeded_randn((instances, probes.TEXT_TOKENS, 32), hidden_seed + 4),
                      prediction_type=prediction_type, prior_loss_weight=_prior_loss_weight(hidden_seed))
