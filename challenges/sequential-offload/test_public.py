"""Public tests for sequential-offload: run them with `diffchallenge test`."""

import pytest

from pytest_diffchallenge import figures
from pytest_diffchallenge.recipes import seeded_randn

# Outputs are compared with the grader's within 1e-5: the worker and the grader may run torch on different thread
# counts, which moves float32 results by a few ulps (the sibling pipeline measured up to 2.1e-6 on values up to
# about 1.6). Logs and the image's change under offload (0.0: moving "cpu" to "cpu:0" copies nothing) are exact.
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


@pytest.mark.points(3)
@pytest.mark.covers("leaves", "around-forward")
def test_net_offload(equivalence, probes):
    equivalence.check("net_offload", **TOLERANCE, model_seed=0, inputs=seeded_randn((2, probes.WIDTH), 1))


@pytest.mark.points(3)
@pytest.mark.covers("same-output", "peak-memory")
def test_pipeline_offload(equivalence, submission, probes):
    inputs = dict(model_seed=0, latents=seeded_randn(probes.LATENTS, 2),
                  text_embeds=seeded_randn(probes.TEXT_EMBEDS, 3), timesteps=[999, 499])
    equivalence.check("pipeline_offload", **TOLERANCE, **inputs)
    probes.judge_peak(figures, submission.call("pipeline_offload", **inputs)["events"], **inputs)
