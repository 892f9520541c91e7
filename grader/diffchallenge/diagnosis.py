"""Diagnosis: which known mistake a failed test's outputs show.

When tests fail with a wrong output, the candidate is graded again on just those tests, and so are the
challenge's kept mutants (``solutions/<slug>/mutants.toml``), all with one diagnosis secret so that hidden
tests draw the same inputs for every one of them; the trusted session keeps each test's compared tensors as
artifacts. A failed test is diagnosed as a mutant's ``mistake`` when the mutant fails it on its output too,
with the same comparisons, and the candidate's outputs agree with the mutant's within the test's own
tolerance in every one of them.

The first such mutant in mutants.toml's order wins (not the closest by error): the author's order puts the
telling mistakes first, and it lets diagnosis stop grading mutants once every failed test has its match.

A ``Diagnoser`` lives for one ``grade`` command or one batch: its secret stays the same, so a mutant's
outputs on a test are graded once and cached for every candidate after. Diagnosis never changes a grade:
it only adds text to failed tests, and any fault in it leaves the verdict as it was.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from diffchallenge import grading
from diffchallenge.bank.mutants import Mutant, load_mutants
from diffchallenge.grading import GradeOptions, Launcher, LocalRunner, Runner
from pytest_diffchallenge.artifacts import Comparison, read_artifacts
from pytest_diffchallenge.metadata import Challenge
from pytest_diffchallenge.secret import new_secret
from pytest_diffchallenge.verdict import Reason, Status, TestRecord, Verdict

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TestOutputs:
    """What one grading showed of one test: whether it failed on its output, and the tensors it compared."""

    __test__ = False  # not a test class, whatever pytest's name rule says

    wrong_output: bool
    comparisons: tuple[Comparison, ...]


# (launcher, challenge, submission folder, out folder, options, secret) -> each graded test's outputs, by nodeid
GradeOutputs = Callable[[Launcher, Challenge, Path, Path, GradeOptions, str], dict[str, TestOutputs]]


def failed_on_output(test: TestRecord) -> bool:
    """Only a wrong output is worth diagnosing: a crash, a time-out or a budget says nothing about the outputs."""
    return test.status is Status.FAILED and test.reason is Reason.WRONG_OUTPUT


def worth_diagnosing(challenge: Challenge, verdict: Verdict) -> bool:
    """A test failed on its output and the challenge keeps mutants to compare it with."""
    return (any(map(failed_on_output, verdict.tests)) and challenge.reference_dir is not None
            and bool(load_mutants(challenge)))


def grade_outputs(launcher: Launcher, challenge: Challenge, submission: Path, out: Path, options: GradeOptions,
                  secret: str) -> dict[str, TestOutputs]:
    """Grade with artifacts kept and return what each test showed; a grading with grader errors raises."""
    verdict = grading.grade(challenge, submission, out, options, launcher=launcher, secret=secret)
    if verdict.errors:
        raise grading.GradingError(f"a diagnosis grading of {submission.name} failed: {verdict.errors[0]}")
    artifacts = read_artifacts(out)
    return {test.nodeid: TestOutputs(failed_on_output(test),
                                     artifacts[test.nodeid].comparisons if test.nodeid in artifacts else ())
            for test in verdict.tests if test.status is not Status.ERROR}


def close(a: torch.Tensor, b: torch.Tensor, tolerance: Comparison) -> bool:
    """``|a - b| <= atol + rtol * |b|`` everywhere, as the comparison judges; NaN and inf where both have them."""
    import torch  # not at the top: `diffchallenge list` loads the batch module, which imports this one

    return a.shape == b.shape and bool(torch.isclose(a.to(torch.float64), b.to(torch.float64), rtol=tolerance.rtol,
                                                     atol=tolerance.atol, equal_nan=True).all())


def agree(candidate: Comparison, mutant: Comparison) -> bool:
    """The same comparison, of the same expected output (the same inputs), and the two outputs within its tolerance."""
    return (candidate.name == mutant.name and candidate.cut == mutant.cut
            and close(candidate.expected, mutant.expected, candidate) and close(candidate.got, mutant.got, candidate))


def same_mistake(candidate: TestOutputs, mutant: TestOutputs) -> bool:
    """Both failed on their output, and every comparison agrees; a test that compared nothing shows nothing."""
    return (candidate.wrong_output and mutant.wrong_output and bool(candidate.comparisons)
            and len(candidate.comparisons) == len(mutant.comparisons)
            and all(map(agree, candidate.comparisons, mutant.comparisons)))


class Diagnoser:
    """Diagnoses failed tests against the kept mutants, for one ``grade`` command or one batch (thread-safe).

    Use it as a context manager: its scratch folder (the mutants' sources, every grading's out folder) goes
    when it closes.
    """

    def __init__(self, options: GradeOptions, grade_outputs: GradeOutputs = grade_outputs):
        self.options = replace(options, artifacts=True, stop_at_first_failure=False)
        self.grade_outputs = grade_outputs
        self.secret = new_secret()
        self.scratch = Path(tempfile.mkdtemp(prefix="diffchallenge-diagnosis-"))
        self.cache: dict[tuple[str, str, str], TestOutputs] = {}  # (challenge, mutant, nodeid) -> its outputs
        self.locks: dict[tuple[str, str], threading.Lock] = {}  # one per mutant: it is graded once per test
        self.locks_lock = threading.Lock()
        self.grading_numbers = itertools.count()  # each grading's out folder

    def __enter__(self) -> Diagnoser:
        return self

    def __exit__(self, *exception) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    def diagnose(self, challenge: Challenge, submission: Path, verdict: Verdict, runner: Runner) -> Verdict:
        """``verdict`` with ``diagnosis`` set on the tests that failed on their output as a mutant does."""
        if not worth_diagnosing(challenge, verdict):
            return verdict
        if not isinstance(runner, LocalRunner):
            log.info("no diagnosis: mutants are graded by a local runner only, not %s", type(runner).__name__)
            return verdict
        failed = [test.nodeid for test in verdict.tests if failed_on_output(test)]
        try:
            mistakes = self.mistakes(challenge, submission, failed, runner.launcher)
        except Exception:  # diagnosis is a hint: its faults never change a grade
            log.warning("diagnosis failed; the verdict stands without it", exc_info=True)
            return verdict
        return verdict.with_(tests=[replace(test, diagnosis=mistakes[test.nodeid]) if test.nodeid in mistakes
                                    else test for test in verdict.tests])

    def mistakes(self, challenge: Challenge, submission: Path, nodeids: list[str],
                 launcher: Launcher) -> dict[str, str]:
        """The mistake each of ``nodeids`` shows, for those that show one."""
        mutants = load_mutants(challenge)
        candidate = self.graded(launcher, challenge, submission, nodeids)
        undiagnosed = [nodeid for nodeid in nodeids if nodeid in candidate and candidate[nodeid].wrong_output]
        found: dict[str, str] = {}
        for mutant in mutants:
            if not undiagnosed:
                break
            outputs = self.mutant_outputs(launcher, challenge, mutant, undiagnosed)
            found |= {nodeid: mutant.mistake for nodeid in undiagnosed
                      if nodeid in outputs and same_mistake(candidate[nodeid], outputs[nodeid])}
            undiagnosed = [nodeid for nodeid in undiagnosed if nodeid not in found]
        return found

    def mutant_outputs(self, launcher: Launcher, challenge: Challenge, mutant: Mutant,
                       nodeids: list[str]) -> dict[str, TestOutputs]:
        """The mutant's outputs on ``nodeids``, graded only for the tests not already in the cache."""
        with self.lock_for(challenge.slug, mutant.name):
            missing = [nodeid for nodeid in nodeids if (challenge.slug, mutant.name, nodeid) not in self.cache]
            if missing:
                folder = mutant.write(challenge, self.scratch / "mutants" / challenge.slug / mutant.name)
                for nodeid, outputs in self.graded(launcher, challenge, folder, missing).items():
                    self.cache[(challenge.slug, mutant.name, nodeid)] = outputs
            return {nodeid: self.cache[key] for nodeid in nodeids
                    if (key := (challenge.slug, mutant.name, nodeid)) in self.cache}

    def lock_for(self, slug: str, mutant: str) -> threading.Lock:
        with self.locks_lock:
            return self.locks.setdefault((slug, mutant), threading.Lock())

    def graded(self, launcher: Launcher, challenge: Challenge, submission: Path,
               nodeids: Iterable[str]) -> dict[str, TestOutputs]:
        out = self.scratch / "gradings" / str(next(self.grading_numbers))
        try:
            return self.grade_outputs(launcher, challenge, submission, out,
                                      replace(self.options, only=tuple(nodeids)), self.secret)
        finally:
            shutil.rmtree(out, ignore_errors=True)
