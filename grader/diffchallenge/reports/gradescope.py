"""Gradescope's results format: hidden tests carry ``visibility: hidden``."""

from __future__ import annotations

from diffchallenge.reports import feedback
from pytest_diffchallenge.metadata import Limits
from pytest_diffchallenge.verdict import Status, Verdict

FILE = "gradescope.json"


def results(verdict: Verdict, limits: Limits) -> dict:
    tests = []
    for number, test in enumerate(verdict.tests, start=1):
        tests.append({
            "score": test.score, "max_score": test.max_score, "name": test.name, "number": str(number),
            "status": "passed" if test.status is Status.PASSED else "failed",
            "output": test.message, "output_format": "text", "tags": [test.visibility],
            "visibility": "hidden" if test.hidden else "visible",
            "extra_data": {"nodeid": test.nodeid, "reason": test.reason, "figures": test.figures},
        })
    return {
        "score": verdict.score,
        "execution_time": round(verdict.duration_s),
        "output": feedback.markdown(verdict, limits),
        "output_format": "md",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {"challenge": verdict.challenge, "max_score": verdict.max_score,
                       "environment": verdict.environment},
        "tests": tests,
    }
