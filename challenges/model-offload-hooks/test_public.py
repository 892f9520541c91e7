"""Public tests for model-offload-hooks: run them with `diffchallenge test`."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

# The image is compared with the grader's within 1e-5: the worker and the grader may run torch on different thread
# counts, and 1 against 2 threads moved the image by up to 2.1e-6 (measured, 3 seeds; values up to about 1.6).
# Logs, counts and the image's change under offload (0.0: moving "cpu" to "cpu:0" copies nothing) are exact.
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


@pytest.mark.points(3)
@pytest.mark.covers("onload", "prev-hook", "offload")
def test_chain_called_in_order(equivalence):
    equivalence.check("chained_hooks", **TOLERANCE, model_seed=0, inputs=seeded_randn((3, 5), 1),
                      script=["a", "b", "c", "offload c"])


@pytest.mark.points(3)
@pytest.mark.covers("pipeline-order", "same-output")
def test_pipeline_offload(equivalence, probes):
    equivalence.check("pipeline_offload", **TOLERANCE, model_seed=0, input_ids=probes.input_ids(0),
                      latents=seeded_randn(probes.LATENTS, 2), timesteps=[999, 499])
