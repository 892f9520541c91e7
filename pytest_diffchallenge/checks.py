"""What a challenge's tests hold: the submission, the equivalence check against the library, the runtime
budget, and the fixtures that hand them out.

Fixtures: ``challenge``, ``submission``, ``probes``, ``equivalence``, ``runtime``, ``device``, ``hidden_seed``.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest
import torch

from pytest_diffchallenge import artifacts, figures, markers, recipes, secret
from pytest_diffchallenge.client import WorkerClient
from pytest_diffchallenge.compare import assert_matches, assert_near_truth
from pytest_diffchallenge.faults import GraderError, MismatchError, OverRuntimeBudget, SubmissionFault
from pytest_diffchallenge.session import PLUGIN_NAME, GradingSession

RUNTIME_WARMUP = 2
RUNTIME_REPEATS = 7
# Timed results against the reference's: two correct implementations of the same fp32 computation.
RUNTIME_RTOL, RUNTIME_ATOL = 1e-4, 1e-4
RUNTIME_SEED_SPAN = 1000
# Against float64 truth: a correct result that rounds in another order errs about as much as the library,
# at other elements; 4x its largest error leaves room for that and none for a wrong formula.
TRUTH_MULTIPLE = 4


def _session(request) -> GradingSession:
    return request.config.pluginmanager.get_plugin(PLUGIN_NAME)


def _challenge(request):
    challenge = _session(request).challenge(request.node)
    if challenge is None:
        raise GraderError("this fixture is only for a challenge's tests")
    return challenge


class Submission:
    """What a test holds: calls go to the worker; peaks are recorded when the test has a memory ceiling."""

    def __init__(self, worker: WorkerClient, memory_ceiling: int | None):
        self._worker = worker
        self._ceiling = memory_ceiling

    def call(self, probe: str, **kwargs):
        reply = self._worker.call(probe, measure_memory=self._ceiling is not None, **kwargs)
        if reply.peak_bytes is not None:
            figures.record_max("peak_tensor_memory_bytes", reply.peak_bytes)
            figures.record_max("resident_growth_bytes", self._worker.resident_growth)
            artifacts.record_memory(artifacts.MemoryTimeline(
                samples=reply.timeline_samples, phases=reply.timeline_phases, ceiling_bytes=self._ceiling,
                peak_bytes=reply.peak_bytes))
        figures.record_max("worker_rss_bytes", self._worker.peak_rss)
        return reply

    @property
    def folder(self) -> Path:
        """The worker's own folder: the trusted side looks there for what the submission's code left behind
        (a security challenge's canary)."""
        return self._worker.folder()


@pytest.fixture
def challenge(request):
    """The challenge's metadata (``challenge.meta``) and folders."""
    return _challenge(request)


@pytest.fixture
def submission(request) -> Submission:
    """The candidate's solution, behind a worker process: ``submission.call(probe, **inputs)``."""
    challenge, session = _challenge(request), _session(request)
    worker = session.worker(challenge, "submission")
    return Submission(worker, markers.memory_ceiling(request.node, challenge, session.device))


@pytest.fixture
def probes(request):
    """The challenge's probes module, loaded in this (trusted) process: its constants and, run with
    ``probes.ORACLE`` as the solution, the oracle."""
    return _session(request).probes(_challenge(request))


class Equivalence:
    def __init__(self, submission: Submission, probes, device: str):
        self.submission, self.probes, self.device = submission, probes, device

    def oracle(self, probe: str, oracle=None, **inputs) -> dict:
        """What the library returns for ``probe`` on ``inputs``, computed here."""
        probe_function = getattr(self.probes, probe)
        expected = probe_function(oracle or self.probes.ORACLE, **inputs,
                                  **recipes.device_keyword(probe_function, self.device))
        return expected() if callable(expected) else expected

    def check(self, probe: str, *, rtol: float, atol: float, oracle=None, **inputs) -> tuple[dict, dict]:
        """Run ``probe`` on the submission (in its worker) and on the oracle (here); compare every result.

        Tensors must match within ``atol + rtol * |expected|``; other values must be equal.
        """
        expected = self.oracle(probe, oracle, **inputs)
        got = self.submission.call(probe, **inputs)
        for key, want in expected.items():
            if isinstance(want, torch.Tensor):
                assert_matches(got[key], want.cpu(), rtol=rtol, atol=atol, name=f"{probe}: {key}")
            else:
                self._same(probe, key, got[key], want)
        return got, expected

    def check_against_truth(self, probe: str, *, truth_inputs: dict | None = None, multiple: float = TRUTH_MULTIPLE,
                            **inputs) -> tuple[dict, dict]:
        """For fp16, bf16 and accumulated results: judge the submission against a float64 run of the oracle.

        The float64 run gets ``inputs`` with every floating tensor in float64, then ``truth_inputs`` on top
        (e.g. ``dtype=torch.float64`` for a probe that builds a model). Each floating tensor of the submission
        must be within ``multiple`` times the library's largest error against that truth, plus one ulp.
        """
        library = self.oracle(probe, **inputs)
        truth = self.oracle(probe, **{**in_float64(inputs), **(truth_inputs or {})})
        got = self.submission.call(probe, **inputs)
        for key, want in library.items():
            if isinstance(want, torch.Tensor) and want.dtype == torch.float64:
                raise GraderError(f"{probe}: {key} is float64, its own truth: judge it with equivalence.check")
            if isinstance(want, torch.Tensor) and want.dtype.is_floating_point:
                assert_near_truth(got[key], want.cpu(), truth[key].cpu(), multiple=multiple, name=f"{probe}: {key}")
            elif isinstance(want, torch.Tensor):
                assert_matches(got[key], want.cpu(), rtol=0, atol=0, name=f"{probe}: {key}")
            else:
                self._same(probe, key, got[key], want)
        return got, library

    @staticmethod
    def _same(probe: str, key: str, got, want) -> None:
        if got != want:
            raise MismatchError(f"{probe}: {key} is {got!r}, expected {want!r}")


def in_float64(inputs: dict) -> dict:
    """``inputs`` with every floating tensor (also in lists and tuples) in float64."""
    def convert(value):
        if isinstance(value, torch.Tensor) and value.dtype.is_floating_point:
            return value.to(torch.float64)
        if isinstance(value, (list, tuple)):
            return type(value)(convert(v) for v in value)
        return value
    return {key: convert(value) for key, value in inputs.items()}


@pytest.fixture
def equivalence(request, submission, probes) -> Equivalence:
    """``equivalence.check(probe, rtol=..., atol=..., **inputs)``: the submission against the library."""
    return Equivalence(submission, probes, _session(request).device)


@pytest.fixture
def device(request) -> str:
    return _session(request).device


@pytest.fixture
def hidden_seed(request) -> int:
    """A seed derived from this run's secret and the test's id: unpredictable to the candidate."""
    return secret.hidden_seed(_session(request).secret, request.node.nodeid)


class Runtime:
    def __init__(self, submission: WorkerClient, reference: WorkerClient, budget: float, hidden_seed: int):
        self.submission, self.reference, self.budget = submission, reference, budget
        self.hidden_seed = hidden_seed

    def check(self, probe: str, *, repeats: int = RUNTIME_REPEATS, rtol: float = RUNTIME_RTOL,
              atol: float = RUNTIME_ATOL, **inputs) -> float:
        """Time the probe's prepared call in both workers, interleaved; fail if the median ratio is over budget.

        A timed run is the very request a checked run is, with fresh inputs each time (``data_seed``, when
        the probe takes one, moves by a hidden offset), and every timed result must match the reference's
        result on the same inputs: a submission cannot be fast only when it is timed.
        """
        times: dict[str, list[float]] = {"candidate": [], "reference": []}
        workers = (("candidate", self.submission), ("reference", self.reference))
        for index in range(RUNTIME_WARMUP + repeats):
            kwargs = dict(inputs)
            if "data_seed" in kwargs:
                kwargs["data_seed"] += 1 + (self.hidden_seed + index) % RUNTIME_SEED_SPAN
            results = {}
            # Whoever runs second in a pair tends to run slower (caches, frequency): take turns going first.
            for role, worker in workers if index % 2 == 0 else workers[::-1]:
                try:
                    handle = worker.prepare(probe, **kwargs)
                    started = time.perf_counter()
                    reply = worker.run(handle)
                    elapsed = time.perf_counter() - started
                except SubmissionFault as fault:
                    if role == "reference":
                        raise GraderError(f"the reference solution failed: {fault}") from None
                    raise
                results[role] = WorkerClient.reply(probe, reply)
                if index >= RUNTIME_WARMUP:
                    times[role].append(elapsed)
            for key, want in results["reference"].items():
                if isinstance(want, torch.Tensor):
                    assert_matches(results["candidate"][key], want, rtol=rtol, atol=atol,
                                   name=f"{probe} (timed run {index + 1}): {key}")
        candidate_s = statistics.median(times["candidate"])
        reference_s = statistics.median(times["reference"])
        samples = artifacts.RuntimeSamples(tuple(times["candidate"]), tuple(times["reference"]), self.budget)
        ratio = samples.ratio
        figures.record("candidate_ms", round(candidate_s * 1000, 3))
        figures.record("reference_ms", round(reference_s * 1000, 3))
        figures.record("runtime_ratio", round(ratio, 3))
        artifacts.record_runtime(samples)
        if ratio > self.budget:
            raise OverRuntimeBudget(f"too slow: {candidate_s * 1000:.1f} ms against the reference's "
                                  f"{reference_s * 1000:.1f} ms (ratio {ratio:.2f}, budget {self.budget:g})")
        return ratio


@pytest.fixture
def runtime(request) -> Runtime:
    """``runtime.check(probe, **inputs)``: the runtime budget, measured against the reference in this run."""
    challenge = _challenge(request)
    budget = markers.runtime_budget(request.node, challenge)
    session = _session(request)
    return Runtime(session.worker(challenge, "submission"), session.worker(challenge, "reference"), budget,
                   secret.hidden_seed(session.secret, request.node.nodeid))
