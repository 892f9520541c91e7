"""Figures a submission cannot forge: memory measured from outside the worker, and timed runs checked like
any other run. Both graded on chunked-attention (public tests: a memory ceiling and a runtime budget)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffchallenge.bank.challenges import get_challenge
from diffchallenge.bank.mutants import reference_dir
from diffchallenge.grading import GradeOptions, grade
from pytest_diffchallenge.verdict import Reason, Status, TestRecord

CHALLENGE = get_challenge("chunked-attention")


def grade_public(tmp_path: Path, patch: str) -> dict[str, TestRecord]:
    """The reference solution with ``patch`` appended, graded with the public tests."""
    submission = tmp_path / "submission"
    submission.mkdir()
    reference = (reference_dir(CHALLENGE) / "solution.py").read_text()
    (submission / "solution.py").write_text(reference + "\n\n" + patch)
    verdict = grade(CHALLENGE, submission, tmp_path / "out", GradeOptions(public_only=True))
    assert verdict.status == "graded", verdict.errors
    return {test.name: test for test in verdict.tests}


def assert_only_failure(tests: dict[str, TestRecord], name: str, reason: Reason, fragment: str) -> None:
    failed = tests[name]
    assert failed.status is Status.FAILED and failed.reason is reason, failed.message
    assert fragment in failed.message
    assert all(test.status is Status.PASSED for other, test in tests.items() if other != name), \
        {other: test.message[:200] for other, test in tests.items() if test.status is not Status.PASSED}


@pytest.mark.slow
def test_a_score_matrix_hidden_from_the_in_worker_meter_still_fails_the_ceiling(tmp_path):
    """The full score matrix in numpy, softmax in place (64 MiB at 4096 tokens), with tracemalloc switched off:
    the worker's own meter sees almost nothing; its resident growth, read from outside, does not lie."""
    tests = grade_public(tmp_path, '''
import numpy
import tracemalloc

tracemalloc.start = lambda *args, **kwargs: None
tracemalloc.get_traced_memory = lambda: (0, 0)


def _whole_matrix_in_numpy(self, query, key, value, attention_mask):
    scores = numpy.matmul(query.numpy(), numpy.swapaxes(key.numpy(), -1, -2))
    scores *= query.shape[-1] ** -0.5
    if attention_mask is not None:
        scores += attention_mask.numpy()
    scores -= scores.max(axis=-1, keepdims=True)
    numpy.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return torch.from_numpy(numpy.matmul(scores, value.numpy()))


ChunkedAttnProcessor.attend_in_query_chunks = _whole_matrix_in_numpy
''')
    assert_only_failure(tests, "test_memory_at_4096_tokens", Reason.OVER_MEMORY, "kept out of the tensor accounting")
    figures = tests["test_memory_at_4096_tokens"].figures
    assert figures["peak_tensor_memory_bytes"] < 40 * 1024**2 < 64 * 1024**2 <= figures["resident_growth_bytes"]


@pytest.mark.slow
def test_a_submission_fast_only_when_timed_fails_the_runtime_test(tmp_path):
    """The timed probe is recognisable by its size; results that are fast and wrong there fail the check."""
    tests = grade_public(tmp_path, '''
_honest_call = ChunkedAttnProcessor.__call__


def _fast_when_timed(self, attn, hidden_states, *args, **kwargs):
    if hidden_states.shape[1] == 8192:  # only the runtime test is this long
        return hidden_states * 0
    return _honest_call(self, attn, hidden_states, *args, **kwargs)


ChunkedAttnProcessor.__call__ = _fast_when_timed
''')
    assert_only_failure(tests, "test_runtime_against_reference", Reason.WRONG_OUTPUT, "timed run")
