"""The author's self-check, ``diffchallenge verify``: does a challenge's test suite tell right from wrong?

- the reference scores full marks under each of ``REFERENCE_SECRETS`` secrets, with the same per-test verdict,
  and each test's oracle reaches the same library lines under every secret (``pytest_diffchallenge.branches``);
- the contract (``challenge.toml``) is shown in the statement, every item has a hidden test, and every
  test covers an item (``bank.contract``);
- the starter scores zero;
- every mutant (``solutions/<slug>/mutants.toml``) loses points: a test fails (its grading stops there).
  A mutant that does not compile is refused when the mutants are loaded; one whose solution.py cannot
  be imported is an error, never a caught mutant. There are at least ``MINIMUM_MUTANTS``, and where the
  challenge forbids APIs, one of them calls one and is told so.

Gradings run through a runner (by default sessions forked from a warm fork server): each is still a fresh
trusted session with a fresh worker. Every verdict is kept as ``results.json`` in its own folder.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from diffchallenge.bank import contract
from diffchallenge.bank.mutants import load_mutants, reference_dir
from diffchallenge.grading import GradeOptions, Runner
from pytest_diffchallenge import branches
from pytest_diffchallenge.metadata import Challenge
from pytest_diffchallenge.verdict import RESULTS_FILE, Reason, Status, Verdict, write_results

# Hidden inputs come from the secret: a test must reach the same branches, and pass, under every one of them.
REFERENCE_SECRETS = 5
NOT_IMPORTABLE = "SolutionImportError"  # the worker's exception type for a solution.py that cannot be imported
MINIMUM_MUTANTS = 6
CHECK = "check"  # the kind of a row that checks the challenge's files, not a grading


@dataclass
class Row:
    challenge: str
    kind: str  # reference | starter | mutant | CHECK
    name: str
    score: float
    max_score: float
    expected: str
    ok: bool
    seconds: float
    errors: list[str] = field(default_factory=list)


def full_marks(challenge: Challenge) -> Callable[[Verdict], bool]:
    return lambda verdict: verdict.score == verdict.max_score == challenge.meta.points


def scores_zero(verdict: Verdict) -> bool:
    return verdict.score == 0


def loses_points(verdict: Verdict) -> bool:
    """A test failed for a reason other than a solution.py that does not import."""
    return any(t.status is Status.FAILED and t.raised != NOT_IMPORTABLE for t in verdict.tests)


def verify_challenge(challenge: Challenge, workdir: Path, runner: Runner, *, threads: int = 1, jobs: int = 1,
                     device: str = "cpu") -> list[Row]:
    """One row per grading: kind, name, score, expectation and whether it held.

    ``jobs`` gradings run at once, each with ``threads`` threads (one thread each on two cores is faster in
    total than two threads each in turn, and oversubscribing threads is many times slower).
    """
    options = GradeOptions(device=device, threads=threads)
    # A mutant has lost points as soon as one test fails: the rest of its grading would prove nothing more.
    until_failure = replace(options, stop_at_first_failure=True)
    reference = reference_dir(challenge)
    traced = replace(options, trace_oracle=True)
    plan: list[tuple[str, str, Path, str, Callable[[Verdict], bool], GradeOptions]] = [
        ("reference", f"secret {n}", reference, "full marks" if n == 1 else "same verdict", full_marks(challenge),
         traced) for n in range(1, REFERENCE_SECRETS + 1)]
    plan.append(("starter", "starter", challenge.root, "zero", scores_zero, options))
    for mutant in load_mutants(challenge):
        folder = mutant.write(challenge, workdir / "mutant-sources" / mutant.name)
        plan.append(("mutant", mutant.name, folder, "loses points", loses_points, until_failure))

    def run(step) -> tuple[Verdict, Row]:
        kind, name, folder, expectation, check, step_options = step
        out = workdir / kind / name
        verdict = runner.grade(challenge, folder, out, step_options)
        write_results(out / RESULTS_FILE, verdict)
        errors = list(verdict.errors)
        if any(t.raised == NOT_IMPORTABLE for t in verdict.tests):
            errors.append("its solution.py cannot be imported: that is an error in the mutant, not a catch")
        return verdict, Row(challenge.slug, kind, name, verdict.score, verdict.max_score, expectation,
                            ok=verdict.status == "graded" and check(verdict), seconds=verdict.duration_s,
                            errors=errors)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(run, plan))
    first = done[0][0]
    for verdict, row in done[1:REFERENCE_SECRETS]:
        row.ok = row.ok and [t.status for t in first.tests] == [t.status for t in verdict.tests]
        row.errors += secret_dependent_branches(first, verdict)
        row.ok = row.ok and not row.errors
    # Checks of the challenge's files rather than gradings: the statement, the coverage, the mutants kept.
    mutants = [verdict for verdict, row in done if row.kind == "mutant"]
    check_rows = [Row(challenge.slug, CHECK, name, 0, 0, expectation, ok=not problems, seconds=0, errors=problems)
                  for name, expectation, problems in (
                      ("statement", "shows the contract", contract.statement_problems(challenge)),
                      ("coverage", "every item, every test", contract.coverage_problems(challenge, first)),
                      ("mutants", f"{MINIMUM_MUTANTS} or more, forbidden APIs exercised",
                       mutant_problems(challenge, mutants)))]
    return [row for _, row in done] + check_rows


def mutant_problems(challenge: Challenge, mutants: list[Verdict]) -> list[str]:
    problems = []
    if len(mutants) < MINIMUM_MUTANTS:
        problems.append(f"{len(mutants)} mutants: keep at least {MINIMUM_MUTANTS} plausible mistakes")
    told = any(t.reason is Reason.FORBIDDEN_API for verdict in mutants for t in verdict.tests)
    if challenge.meta.forbidden and not told:
        problems.append("no mutant calls a forbidden API: add one, so that the guard is seen to tell it")
    return problems


def secret_dependent_branches(first: Verdict, other: Verdict) -> list[str]:
    """Tests whose oracle reached other library lines under another secret."""
    lines = {t.nodeid: t.figures.get(branches.DIGEST_FIGURE) for t in first.tests}
    return [f"{t.name}: the oracle reached other library lines under another secret: a branch depends on it"
            for t in other.tests if t.figures.get(branches.DIGEST_FIGURE) != lines.get(t.nodeid)]


@dataclass
class Summary:
    challenge: str
    reference_seconds: float
    mutants_caught: int
    mutants: int
    all_ok: bool


def summary(rows: list[Row]) -> Summary:
    """Per challenge: the reference's grading time and how many mutants were caught."""
    mutants = [r for r in rows if r.kind == "mutant"]
    return Summary(challenge=rows[0].challenge,
                   reference_seconds=min(r.seconds for r in rows if r.kind == "reference"),
                   mutants_caught=sum(r.ok for r in mutants), mutants=len(mutants), all_ok=all(r.ok for r in rows))
