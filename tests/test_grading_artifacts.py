"""A grading that keeps artifacts (GradeOptions.artifacts), runs some tests only (GradeOptions.only) and reuses a
run's secret (grade(..., secret=)): graded on the toy bank, with a runtime test added to it."""

import shutil

import pytest
import torch
from conftest import HOSTILE

from diffchallenge.grading import GradeOptions, grade
from pytest_diffchallenge.artifacts import read_artifacts
from pytest_diffchallenge.metadata import load_challenge
from pytest_diffchallenge.secret import new_secret

RUNTIME_TEST = '''

@pytest.mark.points(1)
@pytest.mark.runtime_budget(1000)
@pytest.mark.covers("scaled-sum")
def test_runtime(runtime):
    runtime.check("big_sum", repeats=3, size=2000, alpha=2.0)
'''
HIDDEN = "::test_secret_inputs"  # how a verdict names a test outside the challenge's folder


@pytest.fixture
def toy_with_runtime(toy_bank):
    root = toy_bank / "challenges" / "toy-challenge"
    with open(root / "test_public.py", "a") as tests:
        tests.write(RUNTIME_TEST)
    metadata = root / "challenge.toml"
    metadata.write_text(metadata.read_text().replace("points = 6", "points = 7"))
    return load_challenge(root)


def test_artifacts_only_and_secret(toy_with_runtime, tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    # Right on the public tests' inputs, wrong on the hidden test's.
    shutil.copyfile(HOSTILE / "half_right.py", submission / "solution.py")
    secret = new_secret()
    verdict = grade(toy_with_runtime, submission, tmp_path / "all", GradeOptions(artifacts=True), secret=secret)
    tests = {test.nodeid: test for test in verdict.tests}
    assert not verdict.errors and set(tests) == {"test_public.py::test_small", "test_public.py::test_memory",
                                                  "test_public.py::test_runtime", HIDDEN}
    assert tests[HIDDEN].status == "failed" and tests["test_public.py::test_runtime"].status == "passed"
    kept = read_artifacts(tmp_path / "all")
    assert set(kept) == set(tests)

    (failed,) = kept[HIDDEN].comparisons
    assert failed.name == "scaled_sum: out" and failed.got.shape == failed.expected.shape == (4, 5)
    assert not torch.allclose(failed.got, failed.expected) and (failed.rtol, failed.atol) == (1e-6, 1e-6)
    (passed,) = kept["test_public.py::test_small"].comparisons
    assert torch.equal(passed.got, passed.expected)

    timed = kept["test_public.py::test_runtime"].runtime
    assert timed is not None and timed.budget == 1000
    assert len(timed.candidate_s) == len(timed.reference_s) == 3 and min(timed.candidate_s + timed.reference_s) > 0

    memory = kept["test_public.py::test_memory"].memory
    figures = tests["test_public.py::test_memory"].figures
    assert memory is not None and memory.peak_bytes == figures["peak_tensor_memory_bytes"]
    assert memory.ceiling_bytes == figures["tensor_memory_ceiling_bytes"]
    live = [live for _, live in memory.samples]
    assert 1_000_000 <= max(live) <= memory.peak_bytes  # alpha * b alone is 1 MB

    # The hidden test alone, on the same secret: the same hidden inputs, so the same expected output.
    again = grade(toy_with_runtime, submission, tmp_path / "again", GradeOptions(artifacts=True, only=(HIDDEN,)),
                  secret=secret)
    assert not again.errors and [test.nodeid for test in again.tests] == [HIDDEN]
    assert torch.equal(read_artifacts(tmp_path / "again")[HIDDEN].comparisons[0].expected, failed.expected)
    other = grade(toy_with_runtime, submission, tmp_path / "other",
                  GradeOptions(artifacts=True, only=(HIDDEN, "test_public.py::test_nope")))
    assert other.errors == ["no test test_public.py::test_nope to run (--diffchallenge-only)"]
    assert not torch.equal(read_artifacts(tmp_path / "other")[HIDDEN].comparisons[0].expected, failed.expected)
