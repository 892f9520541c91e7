"""The pytest plugin: markers, options, fixtures and the hooks that turn outcomes into a verdict.

Tests of a challenge (files beside a ``challenge.toml``) talk to the submission only through the
``submission`` fixture, a worker process; comparisons, points and ``results.json`` stay in this process.

Markers:
    points(n)               points for the test (default 1)
    hidden                  a hidden test: graded, never shown to candidates in detail
    time_limit(seconds)     per-test limit for the submission's work (default: metadata limits.timeout_s)
    memory_limit(size=None) peak tensor memory ceiling for every submission call in the test
                            (default: metadata limits.tensor_memory)
    runtime_budget(ratio=None) used by the ``runtime`` fixture: candidate time / reference time
                            (default: metadata limits.runtime_ratio)
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import math
import os
import platform
import secrets
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest
import torch

from pytest_diffchallenge import figures, recipes
from pytest_diffchallenge.compare import MismatchError, assert_matches
from pytest_diffchallenge.memory import format_size, parse_size
from pytest_diffchallenge.worker_client import (WALL_FACTOR, InProcessClient, SubmissionFault, WorkerClient,
                                                become_subreaper)
from pytest_diffchallenge.worker_process import load_module

BACKSTOP_MARGIN_S = 60  # pytest-timeout stops trusted code that hangs; the worker has its own limits
RUNTIME_WARMUP = 2
RUNTIME_REPEATS = 7
MESSAGE_CHARS = 4000
SECRET_FD_VARIABLE = "DIFFCHALLENGE_SECRET_FD"
PR_SET_DUMPABLE = 4


class GraderError(RuntimeError):
    """The grader itself could not run a check (an infrastructure fault, reported as 'error')."""


def pytest_addoption(parser):
    group = parser.getgroup("diffchallenge", "diffchallenge grading")
    group.addoption("--submission", metavar="DIR",
                    help="folder holding the candidate's solution.py (default: the challenge's own starter, "
                         "or the workspace itself)")
    group.addoption("--reference", metavar="DIR", help="folder of the reference solution, for runtime budgets")
    group.addoption("--diffchallenge-results", metavar="PATH", help="write the verdict as JSON to PATH")
    group.addoption("--diffchallenge-device", default="cpu", help="device the challenges run on (cpu, cuda)")
    group.addoption("--diffchallenge-threads", type=int, default=os.cpu_count() or 1,
                    help="torch threads for each worker (split the cores between parallel gradings)")
    group.addoption("--public-only", action="store_true", help="deselect hidden tests")
    group.addoption("--diffchallenge-in-process", action="store_true",
                    help="UNSAFE: run the solution inside this process (debugging, isolation-overhead "
                         "benchmarks); never for grading code you do not trust")


def pytest_configure(config):
    for line in ("points(n): points the test is worth (default 1)",
                 "hidden: a hidden test, graded but never shown in detail",
                 "time_limit(seconds): limit for the submission's work in this test",
                 "memory_limit(size=None): peak tensor memory ceiling for submission calls",
                 "runtime_budget(ratio=None): allowed candidate/reference time ratio"):
        config.addinivalue_line("markers", line)
    config.pluginmanager.register(Grading(config), "diffchallenge-grading")


@dataclass
class TestResult:
    name: str
    nodeid: str
    status: str  # passed | failed | error | skipped
    score: float
    max_score: float
    visibility: str  # visible | hidden
    message: str = ""
    figures: dict = field(default_factory=dict)


class Grading:
    """Per-session state: the workers, the secret and the results."""

    def __init__(self, config):
        self.config = config
        self.secret = read_secret()
        self.workers: dict[tuple[str, str], WorkerClient] = {}
        self.results: dict[str, TestResult] = {}
        self.challenges: dict[Path, object] = {}
        self.errors: list[str] = []
        self.started = time.time()
        self.device = config.getoption("diffchallenge_device")
        # The oracle runs with the workers' thread count: results can depend on it (1e-6 in a forward pass,
        # far more after a few optimizer steps), and the comparison must see only the candidate's doing.
        torch.set_num_threads(config.getoption("diffchallenge_threads"))
        become_subreaper()

    # -- helpers -----------------------------------------------------------------------------------------
    def challenge(self, item):
        return self.challenge_in(Path(str(item.fspath)).parent)

    def challenge_in(self, folder: Path):
        """The challenge whose challenge.toml is in ``folder``, or None."""
        from diffchallenge.bank import METADATA_FILE, load_challenge

        folder = folder.resolve()
        if folder not in self.challenges:
            self.challenges[folder] = load_challenge(folder) if (folder / METADATA_FILE).is_file() else None
        return self.challenges[folder]

    def probes(self, challenge):
        name = "diffchallenge_probes_" + challenge.slug.replace("-", "_")
        return sys.modules.get(name) or load_module(name, str(challenge.probes))

    def worker(self, challenge, role: str) -> WorkerClient:
        key = (str(challenge.root), role)
        if key not in self.workers:
            if role == "submission":
                option = self.config.getoption("submission")
                solution_dir = Path(option) if option else challenge.root
            else:
                option = self.config.getoption("reference")
                solution_dir = Path(option) if option else challenge.reference_dir
                if not (solution_dir / "solution.py").is_file():
                    pytest.skip("this check needs the reference solution, which only graders have")
            client = InProcessClient if self.config.getoption("diffchallenge_in_process") else WorkerClient
            self.workers[key] = client(
                solution_dir=solution_dir.resolve(), probes=challenge.probes, forbidden=challenge.meta.forbidden,
                device=self.device, threads=self.config.getoption("diffchallenge_threads"),
                memory_limit=challenge.meta.limits.worker_memory,
                label="submission" if role == "submission" else "reference solution")
        return self.workers[key]

    # -- hooks -------------------------------------------------------------------------------------------
    def pytest_sessionstart(self, session):
        """Launch the workers of the challenges named on the command line now, so that their imports
        overlap with collection here instead of following it."""
        recipes.exact_float32(self.device)  # the oracle computes here
        for argument in self.config.args:
            path = Path(argument.split("::")[0])
            challenge = self.challenge_in(path if path.is_dir() else path.parent)
            if challenge is None:
                continue
            self.worker(challenge, "submission").launch()
            reference = Path(self.config.getoption("reference") or challenge.reference_dir)
            if challenge.meta.limits.runtime_ratio and (reference / "solution.py").is_file() \
                    and not self.config.getoption("public_only"):
                self.worker(challenge, "reference").launch()

    def pytest_collection_modifyitems(self, config, items):
        selected, deselected = [], []
        for item in items:
            challenge = self.challenge(item)
            if challenge is None:
                selected.append(item)
                continue
            if config.getoption("public_only") and item.get_closest_marker("hidden"):
                deselected.append(item)
                continue
            selected.append(item)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(time_limit(item, challenge) * WALL_FACTOR + BACKSTOP_MARGIN_S))
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = selected

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        challenge = self.challenge(item)
        if challenge is None:
            return (yield)
        measured = figures.start_test()
        for worker in self.workers.values():
            worker.begin_test(time_limit(item, challenge))
        result = yield
        ceiling = memory_ceiling(item, challenge)
        if ceiling is not None:
            peak = measured.get("peak_tensor_memory_bytes")
            if peak is None:
                raise GraderError("memory_limit test made no measured submission call")
            if peak > ceiling:
                raise SubmissionFault(f"peak tensor memory {format_size(peak)} exceeds the ceiling of "
                                      f"{format_size(ceiling)}")
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        challenge = self.challenge(item)
        if challenge is None:
            return report
        points = float(marker_arg(item, "points", 1))
        visibility = "hidden" if item.get_closest_marker("hidden") else "visible"
        previous = self.results.get(item.nodeid)
        if report.skipped:
            status, message = "skipped", str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        elif report.failed:
            status = "failed" if is_submission_fault(call.excinfo) else "error"
            message = failure_message(call.excinfo)
        else:
            status, message = "passed", ""
        if report.when == "setup" and status == "passed":
            return report
        if report.when == "teardown" and (status == "passed" or (previous and previous.status != "passed")):
            return report  # a clean teardown keeps the call's outcome; the first failure wins
        self.results[item.nodeid] = TestResult(
            name=item.name, nodeid=item.nodeid, status=status,
            score=points if status == "passed" else 0.0, max_score=0.0 if status == "skipped" else points,
            visibility=visibility, message=message[:MESSAGE_CHARS], figures=finite(figures._current or {}))
        return report

    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append(f"could not collect {report.nodeid}: {str(report.longrepr)[-MESSAGE_CHARS:]}")

    def pytest_sessionfinish(self, session, exitstatus):
        for worker in self.workers.values():
            worker.stop()
        path = self.config.getoption("diffchallenge_results")
        if path and self.challenges:
            write_results(Path(path), self.verdict(session))

    def pytest_terminal_summary(self, terminalreporter):
        if not self.results:
            return
        verdict = self.verdict(None)
        terminalreporter.section("diffchallenge")
        for result in verdict["tests"]:
            terminalreporter.write_line(f"{result['status']:>7}  {result['score']:g}/{result['max_score']:g}  "
                                        f"{result['name']}")
        terminalreporter.write_line(f"score: {verdict['score']:g} / {verdict['max_score']:g}", bold=True)

    # -- the verdict -------------------------------------------------------------------------------------
    def verdict(self, session) -> dict:
        challenges = [c for c in self.challenges.values() if c is not None]
        tests = [asdict(r) for r in self.results.values()]
        errors = list(self.errors)
        max_score = sum(t["max_score"] for t in tests)
        complete_run = not self.config.getoption("public_only") and not self.config.getoption("maxfail")
        if len(challenges) == 1 and complete_run and not errors \
                and all(t["status"] != "skipped" for t in tests) and max_score != challenges[0].meta.points:
            errors.append(f"the tests add up to {max_score:g} points but challenge.toml declares "
                          f"{challenges[0].meta.points}")
        return {
            "challenge": challenges[0].slug if len(challenges) == 1 else [c.slug for c in challenges],
            "title": challenges[0].meta.title if len(challenges) == 1 else "",
            "status": "error" if errors or any(t["status"] == "error" for t in tests) else "graded",
            "score": sum(t["score"] for t in tests),
            "max_score": max_score,
            "tests": tests,
            "errors": errors,
            "isolation": "none (in-process)" if self.config.getoption("diffchallenge_in_process") else "worker process",
            "environment": environment(self.device),
            "duration_s": round(time.time() - self.started, 2),
        }


# -- fixtures ------------------------------------------------------------------------------------------------
def _grading(request) -> Grading:
    return request.config.pluginmanager.get_plugin("diffchallenge-grading")


def _challenge(request):
    challenge = _grading(request).challenge(request.node)
    if challenge is None:
        raise GraderError("this fixture is only for tests beside a challenge.toml")
    return challenge


class Submission:
    """What a test holds: calls go to the worker; peaks are recorded when the test has a memory limit."""

    def __init__(self, worker: WorkerClient, measure_memory: bool):
        self._worker = worker
        self._measure = measure_memory

    def call(self, probe: str, **kwargs):
        reply = self._worker.call(probe, measure_memory=self._measure, **kwargs)
        if reply.peak_bytes is not None:
            figures.record_max("peak_tensor_memory_bytes", reply.peak_bytes)
        figures.record_max("worker_rss_bytes", self._worker.peak_rss)
        return reply


@pytest.fixture
def challenge(request):
    """The challenge's metadata (``challenge.meta``) and folders."""
    return _challenge(request)


@pytest.fixture
def submission(request) -> Submission:
    """The candidate's solution, behind a worker process: ``submission.call(probe, **inputs)``."""
    challenge = _challenge(request)
    worker = _grading(request).worker(challenge, "submission")
    return Submission(worker, measure_memory=memory_ceiling(request.node, challenge) is not None)


@pytest.fixture
def probes(request):
    """The challenge's probes module, loaded in this (trusted) process: its constants and, run with
    ``probes.ORACLE`` as the solution, the oracle."""
    return _grading(request).probes(_challenge(request))


class Equivalence:
    def __init__(self, submission: Submission, probes, device: str):
        self.submission, self.probes, self.device = submission, probes, device

    def check(self, probe: str, *, rtol: float, atol: float, oracle=None, **inputs) -> tuple[dict, dict]:
        """Run ``probe`` on the submission (in its worker) and on the oracle (here); compare every result.

        Tensors must match within ``atol + rtol * |expected|``; other values must be equal.
        """
        probe_function = getattr(self.probes, probe)
        expected = probe_function(oracle or self.probes.ORACLE, **inputs,
                                  **recipes.device_keyword(probe_function, self.device))
        if callable(expected):
            expected = expected()
        got = self.submission.call(probe, **inputs)
        for key, want in expected.items():
            if isinstance(want, torch.Tensor):
                assert_matches(got[key], want.cpu(), rtol=rtol, atol=atol, name=f"{probe}: {key}")
            elif got[key] != want:
                raise MismatchError(f"{probe}: {key} is {got[key]!r}, expected {want!r}")
        return got, expected


@pytest.fixture
def equivalence(request, submission, probes) -> Equivalence:
    """``equivalence.check(probe, rtol=..., atol=..., **inputs)``: the submission against the library."""
    return Equivalence(submission, probes, _grading(request).device)


@pytest.fixture
def device(request) -> str:
    return _grading(request).device


@pytest.fixture
def hidden_seed(request) -> int:
    """A seed derived from this run's secret and the test's id: unpredictable to the candidate."""
    digest = hashlib.sha256(f"{_grading(request).secret}:{request.node.nodeid}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class Runtime:
    def __init__(self, submission: WorkerClient, reference: WorkerClient, budget: float):
        self.submission, self.reference, self.budget = submission, reference, budget

    def check(self, probe: str, *, repeats: int = RUNTIME_REPEATS, **kwargs) -> float:
        """Time the probe's prepared call in both workers, interleaved; fail if the median ratio is over budget."""
        try:
            reference = self.reference.prepare(probe, **kwargs)
        except SubmissionFault as fault:
            raise GraderError(f"the reference solution failed: {fault}") from None
        candidate = self.submission.prepare(probe, **kwargs)
        times = {"candidate": [], "reference": []}
        pair = (("candidate", self.submission, candidate), ("reference", self.reference, reference))
        for index in range(RUNTIME_WARMUP + repeats):
            # Whoever runs second in a pair tends to run slower (caches, frequency): take turns going first.
            for role, worker, handle in pair if index % 2 == 0 else pair[::-1]:
                started = time.perf_counter()
                try:
                    worker.run(handle, discard=True)
                except SubmissionFault as fault:
                    if role == "reference":
                        raise GraderError(f"the reference solution failed: {fault}") from None
                    raise
                if index >= RUNTIME_WARMUP:
                    times[role].append(time.perf_counter() - started)
        candidate_s = statistics.median(times["candidate"])
        reference_s = statistics.median(times["reference"])
        # Each pair ran back to back, so load on the machine hits both alike: the median of the pairs'
        # ratios is steadier than the ratio of the medians.
        ratio = statistics.median(c / r for c, r in zip(times["candidate"], times["reference"]))
        figures.record("candidate_ms", round(candidate_s * 1000, 3))
        figures.record("reference_ms", round(reference_s * 1000, 3))
        figures.record("runtime_ratio", round(ratio, 3))
        if ratio > self.budget:
            raise SubmissionFault(f"too slow: {candidate_s * 1000:.1f} ms against the reference's "
                                  f"{reference_s * 1000:.1f} ms (ratio {ratio:.2f}, budget {self.budget:g})")
        return ratio


@pytest.fixture
def runtime(request) -> Runtime:
    """``runtime.check(probe, **inputs)``: the runtime budget, measured against the reference in this run."""
    challenge = _challenge(request)
    budget = marker_arg(request.node, "runtime_budget", None) or challenge.meta.limits.runtime_ratio
    if budget is None:
        raise GraderError("runtime_budget needs a ratio, in the marker or as limits.runtime_ratio")
    grading = _grading(request)
    return Runtime(grading.worker(challenge, "submission"), grading.worker(challenge, "reference"), float(budget))


# -- small pure helpers --------------------------------------------------------------------------------------
def marker_arg(item, name: str, default):
    marker = item.get_closest_marker(name)
    if marker is None:
        return default
    return marker.args[0] if marker.args else marker.kwargs.get(next(iter(marker.kwargs), ""), default)


def time_limit(item, challenge) -> float:
    return float(marker_arg(item, "time_limit", challenge.meta.limits.timeout_s))


def memory_ceiling(item, challenge) -> int | None:
    marker = item.get_closest_marker("memory_limit")
    if marker is None:
        return None
    size = marker.args[0] if marker.args else challenge.meta.limits.tensor_memory
    if size is None:
        raise GraderError("memory_limit needs a size, in the marker or as limits.tensor_memory")
    return parse_size(size)


def is_submission_fault(excinfo) -> bool:
    """Wrong answers fail; anything else that went wrong is the grader's error, never a zero."""
    if excinfo is None:
        return False
    if excinfo.errisinstance(pytest.fail.Exception):
        return not str(excinfo.value).startswith("Timeout")  # pytest-timeout's backstop: trusted code hung
    return excinfo.errisinstance(AssertionError)


def failure_message(excinfo) -> str:
    if excinfo is None:
        return ""
    if excinfo.errisinstance(AssertionError) and str(excinfo.value):
        return str(excinfo.value)
    return excinfo.exconly()


def read_secret() -> str:
    """This run's secret, from the pipe the grader passed (else a fresh one).

    It never reaches a worker: workers get an environment built from scratch, the secret is not in this
    process's environment or command line, and this process is made non-dumpable so that a worker
    running as another, non-root user cannot read its memory.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    descriptor = os.environ.pop(SECRET_FD_VARIABLE, None)
    if descriptor is None:
        return secrets.token_hex(16)
    with os.fdopen(int(descriptor), "rb") as pipe:
        return pipe.read().decode() or secrets.token_hex(16)


def finite(measured: dict) -> dict:
    """JSON has no inf or NaN: such figures are written as strings."""
    return {k: v if not isinstance(v, float) or math.isfinite(v) else str(v) for k, v in measured.items()}


def environment(device: str) -> dict:
    import diffusers
    import torch

    from diffchallenge import __version__

    info = {"diffchallenge": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "diffusers": diffusers.__version__, "device": device, "platform": platform.platform()}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_results(path: Path, verdict: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(verdict, indent=2, allow_nan=False))
    temporary.replace(path)
