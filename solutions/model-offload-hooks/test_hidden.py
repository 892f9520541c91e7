"""Hidden tests for model-offload-hooks: weights and inputs come from the run's secret seed; the order of calls and
offloads each test makes, and so the branches it reaches, never depend on it."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

# The image within 1e-5 of the grader's: see test_public.py (thread counts moved the image by up to 2.1e-6).
TOLERANCE = dict(rtol=1e-5, atol=1e-5)

# Scripts for the chain a -> b -> c: a name calls that module, "offload NAME" calls its hook's offload().
SCRIPTS = {
    "in-order": ["a", "b", "c", "offload c"],
    "each-called-twice": ["a", "a", "b", "b", "c", "c", "offload c"],
    # a has no prev_hook, so calling it again leaves b on the execution device until c offloads it
    "called-again-out-of-order": ["a", "b", "a", "c", "offload a", "offload c"],
    # c's prev_hook is b's: c offloads b (already on "cpu") and a stays on the execution device
    "skips-the-middle": ["a", "c", "offload c", "offload a"],
    "offloaded-between-calls": ["a", "offload a", "a", "b", "offload b", "b", "offload b"],
}


@pytest.mark.points(3)
@pytest.mark.covers("onload", "prev-hook", "offload")
@pytest.mark.parametrize("script", SCRIPTS)
def test_chained_hooks(equivalence, hidden_seed, script):
    calls = sum(not step.startswith("offload") for step in SCRIPTS[script])
    equivalence.check("chained_hooks", **TOLERANCE, model_seed=hidden_seed % 1009,
                      inputs=seeded_randn((calls, 3 + hidden_seed % 5), hidden_seed), script=SCRIPTS[script])


@pytest.mark.points(2)
@pytest.mark.covers("onload", "prev-hook")
def test_modules_arriving_on_the_execution_device(equivalence, probes, hidden_seed):
    # offload_with_hook sends each to "cpu" at once; b's call then offloads a (already there)
    equivalence.check("chained_hooks", **TOLERANCE, model_seed=hidden_seed % 1013,
                      inputs=seeded_randn((2, 4), hidden_seed), script=["b", "a", "offload a"],
                      arrive_on=probes.EXECUTION_DEVICE)


@pytest.mark.points(3)
@pytest.mark.covers("pipeline-order", "same-output", "forbidden")
def test_pipeline_offload(equivalence, probes, hidden_seed):
    equivalence.check("pipeline_offload", **TOLERANCE, model_seed=hidden_seed % 1019,
                      input_ids=probes.input_ids(hidden_seed), latents=seeded_randn(probes.LATENTS, hidden_seed + 1),
                      timesteps=[999, 666, 333])
