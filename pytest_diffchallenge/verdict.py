"""The verdict: one record per grading, one per test, and the only code that writes ``results.json``.

A test's ``status`` is passed, failed (the submission's fault: it loses the points) or error (the grader's
fault: never counted as a zero). A test that did not pass has a ``reason`` from a fixed set, which the
trusted side takes from the fault's class (see ``faults``), never from the wording of its message.

Everything read back (a session's file, a container's results, an earlier run's results.json) is
validated by ``Verdict.from_json``; figures that are not finite numbers are dropped before they are
stored, so a report can always be written.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.json"
MESSAGE_CHARS = 4000
UNREADABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]")
READABLE = 0o644
MAX_FIGURE = 1e18  # larger than any byte count or time a grading measures: anything beyond is absurd


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"


class Reason(StrEnum):
    WRONG_OUTPUT = "wrong output"
    RAISED = "raised"
    NOT_IMPLEMENTED = "not implemented"
    TIMED_OUT = "timed out"
    OVER_MEMORY = "over memory"
    OVER_RUNTIME_BUDGET = "over runtime budget"
    FORBIDDEN_API = "forbidden API"
    CRASHED = "crashed"
    INFRASTRUCTURE = "infrastructure"


class VerdictError(ValueError):
    """A verdict file that is missing, not JSON, or not in this format."""


def clean_figures(figures: Any) -> dict[str, float]:
    """Only finite numbers of a sane size survive: NaN, inf, strings and nesting are dropped."""
    if not isinstance(figures, dict):
        return {}
    return {str(name): float(value) for name, value in figures.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            and abs(value) <= MAX_FIGURE and math.isfinite(value)}  # the bound first: a huge int overflows isfinite


@dataclass(frozen=True)
class TestRecord:
    __test__ = False  # not a test class, whatever pytest's name rule says

    name: str
    nodeid: str
    status: Status
    max_score: float
    visibility: str  # visible | hidden
    reason: Reason | None = None
    message: str = ""
    raised: str = ""  # the exception type the submission raised, when it raised one
    figures: dict[str, float] = field(default_factory=dict)
    covers: tuple[str, ...] = ()  # the contract items the test checks
    diagnosis: str = ""  # the mistake of the kept mutant whose outputs a failed test's outputs match

    @property
    def score(self) -> float:
        return self.max_score if self.status is Status.PASSED else 0.0

    @property
    def hidden(self) -> bool:
        return self.visibility == "hidden"

    def to_json(self) -> dict:
        return {"name": self.name, "nodeid": self.nodeid, "status": str(self.status),
                "reason": None if self.reason is None else str(self.reason), "score": self.score,
                "max_score": self.max_score, "visibility": self.visibility, "message": self.message,
                "raised": self.raised, "figures": self.figures, "covers": list(self.covers),
                "diagnosis": self.diagnosis}

    @classmethod
    def from_json(cls, data: Any) -> TestRecord:
        if not isinstance(data, dict):
            raise VerdictError("a test record is not an object")
        try:
            status = Status(data["status"])
            reason = None if data.get("reason") is None else Reason(data["reason"])
            record = cls(name=_text(data["name"]), nodeid=_text(data["nodeid"]), status=status,
                         max_score=_number(data["max_score"]), visibility=_text(data["visibility"]), reason=reason,
                         message=_text(data.get("message", "")), raised=_text(data.get("raised", "")),
                         figures=clean_figures(data.get("figures", {})),
                         covers=tuple(_text(name) for name in _list(data.get("covers", []))),
                         diagnosis=readable(_text(data.get("diagnosis", "")))[:MESSAGE_CHARS])
        except (KeyError, ValueError, TypeError, OverflowError) as error:
            raise VerdictError(f"a test record is malformed: {error!r}") from None
        if record.visibility not in ("visible", "hidden") or record.max_score < 0:
            raise VerdictError(f"test {record.name!r}: bad visibility or points")
        if (record.status is Status.PASSED) != (record.reason is None):
            raise VerdictError(f"test {record.name!r}: a reason goes with a test that did not pass, and only then")
        if record.diagnosis and record.status is Status.PASSED:
            raise VerdictError(f"test {record.name!r}: a diagnosis goes with a test that did not pass")
        return record


@dataclass(frozen=True)
class SkippedTest:
    """A test that was not run here, e.g. because it needs the reference solution that only graders have."""

    name: str
    nodeid: str
    visibility: str
    why: str

    @property
    def hidden(self) -> bool:
        return self.visibility == "hidden"

    @classmethod
    def from_json(cls, data: Any) -> SkippedTest:
        if not isinstance(data, dict):
            raise TypeError("a skipped test is not an object")
        return cls(name=_text(data["name"]), nodeid=_text(data["nodeid"]), visibility=_text(data["visibility"]),
                   why=_text(data["why"]))


@dataclass(frozen=True)
class Verdict:
    challenge: str
    title: str
    tests: list[TestRecord]
    unfinished: list[TestRecord] = field(default_factory=list)  # selected, not finished: a session stopped early
    errors: list[str] = field(default_factory=list)  # faults of the grader outside any test
    skipped: list[SkippedTest] = field(default_factory=list)
    isolation: str = ""
    sandbox: dict[str, str] = field(default_factory=dict)  # each layer of the worker's sandbox: held or why not
    environment: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    submission: str = ""
    runner: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """graded, or error when the grader failed anywhere (then the score is not a grade)."""
        return "error" if self.errors or any(t.status is Status.ERROR for t in self.tests) else "graded"

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    def with_(self, **changes) -> Verdict:
        return replace(self, **changes)

    def to_json(self) -> dict:
        return {"challenge": self.challenge, "title": self.title, "status": self.status, "score": self.score,
                "max_score": self.max_score, "tests": [t.to_json() for t in self.tests],
                "unfinished": [t.to_json() for t in self.unfinished], "errors": self.errors,
                "skipped": [asdict(t) for t in self.skipped], "isolation": self.isolation,
                "sandbox": self.sandbox,
                "environment": self.environment, "duration_s": self.duration_s, "submission": self.submission,
                "runner": self.runner}

    @classmethod
    def from_json(cls, data: Any) -> Verdict:
        if not isinstance(data, dict):
            raise VerdictError("the verdict is not a JSON object")
        try:
            tests = data["tests"]
            if not isinstance(tests, list):
                raise TypeError("tests is not a list")
            environment = data.get("environment", {})
            runner = data.get("runner", {})
            sandbox = data.get("sandbox", {})
            if not isinstance(environment, dict) or not isinstance(runner, dict) or not isinstance(sandbox, dict):
                raise TypeError("environment, runner and sandbox must be objects")
            verdict = cls(challenge=_text(data["challenge"]), title=_text(data.get("title", "")),
                          tests=[TestRecord.from_json(t) for t in tests],
                          unfinished=[TestRecord.from_json(t) for t in _list(data.get("unfinished", []))],
                          errors=[_text(e) for e in _list(data.get("errors", []))],
                          skipped=[SkippedTest.from_json(s) for s in _list(data.get("skipped", []))],
                          isolation=_text(data.get("isolation", "")),
                          sandbox={_text(k): _text(v) for k, v in sandbox.items()},
                          environment={str(k): str(v) for k, v in environment.items()},
                          duration_s=_number(data.get("duration_s", 0.0)),
                          submission=_text(data.get("submission", "")), runner=_plain_json(runner))
        except (KeyError, ValueError, TypeError, OverflowError) as error:
            raise VerdictError(f"the verdict is malformed: {error!r}") from None
        return verdict


def readable(text: str) -> str:
    """Text from a submission, fit for every report: no lone surrogates (they cannot be written as UTF-8) and
    no control characters but tab and newline (XML, and so junit.xml, cannot hold them)."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return UNREADABLE.sub("\ufffd", text)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= MAX_FIGURE:
        raise TypeError(f"expected a finite number, got {str(value)[:40]}")
    return float(value)


def _plain_json(value: dict) -> dict:
    """A free-form object (the runner's details) that can be written back: finite, not absurdly deep."""
    try:
        json.dumps(value, allow_nan=False)
    except (ValueError, TypeError, RecursionError) as error:
        raise TypeError(f"not plain JSON: {type(error).__name__}") from None
    return value


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def write_atomically(path: Path, text: str) -> None:
    """A reader sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, READABLE)  # mkstemp makes it private; a report is for reading
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_results(path: Path, verdict: Verdict) -> None:
    """Write a verdict file: ``results.json``, or a session's own file. Nothing else writes either."""
    write_atomically(path, json.dumps(verdict.to_json(), indent=2, allow_nan=False) + "\n")


def read_results(path: Path) -> Verdict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise VerdictError(f"{path}: cannot read a verdict: {error}") from None
    return Verdict.from_json(data)
