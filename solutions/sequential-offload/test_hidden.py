"""Hidden tests for sequential-offload: weights and inputs come from the run's secret seed; the calls each test
makes, and so the branches it reaches, never depend on it."""

import pytest

from pytest_diffchallenge import figures
from pytest_diffchallenge.recipes import seeded_randn

# Within 1e-5 of the grader's: see test_public.py (thread counts move float32 results by a few ulps).
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


@pytest.mark.points(3)
@pytest.mark.covers("leaves", "around-forward")
def test_net_called_three_times(equivalence, hidden_seed):
    equivalence.check("net_offload", **TOLERANCE, model_seed=hidden_seed % 1009,
                      inputs=seeded_randn((3, 3 + hidden_seed % 5), hidden_seed))


@pytest.mark.points(2)
@pytest.mark.covers("leaves")
def test_leaves_arriving_on_the_execution_device(equivalence, probes, hidden_seed):
    equivalence.check("net_offload", **TOLERANCE, model_seed=hidden_seed % 1013,
                      inputs=seeded_randn((1, probes.WIDTH), hidden_seed), arrive_on=probes.EXECUTION_DEVICE)


def pipeline_inputs(probes, hidden_seed):
    return dict(model_seed=hidden_seed % 1019, latents=seeded_randn(probes.LATENTS, hidden_seed + 1),
                text_embeds=seeded_randn(probes.TEXT_EMBEDS, hidden_seed + 2), timesteps=[999, 666, 333])


@pytest.mark.points(3)
@pytest.mark.covers("around-forward", "same-output", "forbidden")
def test_pipeline_offload(equivalence, probes, hidden_seed):
    equivalence.check("pipeline_offload", **TOLERANCE, **pipeline_inputs(probes, hidden_seed))


@pytest.mark.points(3)
@pytest.mark.covers("peak-memory")
def test_peak_memory_against_whole_model_offload(submission, probes, hidden_seed):
    inputs = pipeline_inputs(probes, hidden_seed)
    probes.judge_peak(figures, submission.call("pipeline_offload", **inputs)["events"], **inputs)
