"""What can go wrong in a test, as classes: each fault says whose it is and which reason it gives.

A ``SubmissionFault`` is an AssertionError: the test fails and the submission loses its points. A
``GraderError`` is the grader's own fault: the test is an error, which never counts as a zero.
``classify`` turns a test's exception into its status and reason from the exception's class alone.
"""

from __future__ import annotations

import pytest

from pytest_diffchallenge.verdict import Reason, Status

# Exception types raised by candidate code (named by the worker) that have a reason of their own.
RAISED_REASONS = {"NotImplementedError": Reason.NOT_IMPLEMENTED, "ForbiddenAPIError": Reason.FORBIDDEN_API,
                  "MemoryError": Reason.OVER_MEMORY}


class SubmissionFault(AssertionError):
    """The submission, not the grader, went wrong: the test fails and says why."""

    reason: Reason = Reason.WRONG_OUTPUT
    raised: str = ""


class MismatchError(SubmissionFault):
    """The submission's output differs from the oracle's."""


class BadReply(SubmissionFault):
    """A probe's result is not what the test reads: not a mapping, or a key missing."""


class MalformedReply(SubmissionFault):
    """The worker sent something that is not a frame of our format: its protocol was broken from inside."""

    reason = Reason.CRASHED


class SubmissionRaised(SubmissionFault):
    def __init__(self, error: dict):
        self.raised = str(error.get("type", "?"))
        self.reason = RAISED_REASONS.get(self.raised, Reason.RAISED)
        super().__init__(f"the submission raised {self.raised}: {error.get('message')}\n"
                         f"{error.get('traceback', '')}".rstrip())


class SubmissionTimedOut(SubmissionFault):
    reason = Reason.TIMED_OUT


class SubmissionMemoryExceeded(SubmissionFault):
    reason = Reason.OVER_MEMORY


class OverRuntimeBudget(SubmissionFault):
    reason = Reason.OVER_RUNTIME_BUDGET


class WorkerDied(SubmissionFault):
    reason = Reason.CRASHED


class GraderError(RuntimeError):
    """The grader itself could not run a check (an infrastructure fault, reported as 'error')."""


class WorkerStartFailed(GraderError):
    """The worker could not start before any candidate code ran: the grader's fault, never a zero."""


class SandboxIncomplete(GraderError):
    """A layer of the worker's sandbox is missing while grading requires it: nothing of the submission ran."""


class TrustedCodeHung(GraderError):
    """The trusted side of a test ran past its backstop (the worker has its own limits)."""


def classify(error: BaseException | None) -> tuple[Status, Reason | None]:
    """A test's status and reason from what it raised (None: it passed)."""
    if error is None:
        return Status.PASSED, None
    if isinstance(error, SubmissionFault):
        return Status.FAILED, error.reason
    if isinstance(error, (AssertionError, pytest.fail.Exception)):  # a test's own check of the output
        return Status.FAILED, Reason.WRONG_OUTPUT
    return Status.ERROR, Reason.INFRASTRUCTURE
