"""Public tests for dreambooth-prior-loss: run them with `diffchallenge test`."""

import pytest

# fp32: a float64 computation cast back to fp32 gives the script's losses exactly and its gradient within 2.4e-7
# (relative) and 3e-8 (absolute), measured over 150 batches of each layout; rtol and atol leave room for another
# summation order.
LOSS = dict(rtol=1e-5, atol=1e-7)


@pytest.mark.points(2)
@pytest.mark.covers("epsilon-target", "prior-split", "prior-weight", "gradient")
def test_epsilon_with_prior(equivalence, probes):
    equivalence.check("loss", **LOSS, alphas_cumprod=probes.alphas_cumprod(), prediction_type="epsilon",
                      prior_loss_weight=0.5, **probes.batch(0, examples=4, channels=4, height=8, width=8))


@pytest.mark.points(2)
@pytest.mark.covers("v-target", "prior-split", "prior-weight", "gradient")
def test_v_prediction_with_prior(equivalence, probes):
    equivalence.check("loss", **LOSS, alphas_cumprod=probes.alphas_cumprod(), prediction_type="v_prediction",
                      prior_loss_weight=1.0, **probes.batch(1, examples=2, channels=4, height=8, width=8))


@pytest.mark.points(1)
@pytest.mark.covers("no-prior")
def test_without_prior_preservation(equivalence, probes):
    equivalence.check("loss", **LOSS, alphas_cumprod=probes.alphas_cumprod(), prediction_type="epsilon",
                      with_prior_preservation=False, **probes.batch(2, examples=3, channels=4, height=8, width=8))


@pytest.mark.points(1)
@pytest.mark.covers("learned-variance")
def test_learned_variance(equivalence, probes):
    """DeepFloyd IF: 3-channel pixels, 6 output channels (the second half is the variance)."""
    equivalence.check("loss", **LOSS, alphas_cumprod=probes.alphas_cumprod(), prediction_type="epsilon",
                      **probes.batch(3, examples=2, channels=3, height=8, width=8, output_channels=6))
