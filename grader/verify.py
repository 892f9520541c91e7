"""The author's self-check, ``diffchallenge verify``: does a challenge's test suite tell right from wrong?

- the reference scores full marks, twice, with the same per-test verdict;
- the starter scores zero;
- every mutant (``solutions/<slug>/mutants.toml``) loses points: a test fails (its grading stops there).

Gradings run from the batch grader's warm fork server: each is still a fresh trusted session with a
fresh worker, without paying the trusted side's imports every time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from diffchallenge import bank
from diffchallenge.batch import TrustedSessions, usable_cores
from diffchallenge.grading import GradeOptions
from diffchallenge.mutants import load_mutants


def verify_challenge(challenge: bank.Challenge, workdir: Path, sessions: TrustedSessions, *,
                     jobs: int = 1, device: str = "cpu") -> list[dict]:
    """One row per grading: kind (reference, starter, mutant), name, score, expectation and whether it held.

    ``jobs`` gradings run at once, each with its share of the cores (one thread each on two cores is
    faster in total than two threads each in turn, and oversubscribing threads is many times slower).
    """
    options = GradeOptions(device=device, threads=max(1, usable_cores() // jobs))
    # A mutant has lost points as soon as one test fails: the rest of its grading would prove nothing more.
    until_failure = replace(options, stop_at_first_failure=True)
    full = lambda v: v["score"] == v["max_score"] == challenge.meta.points  # noqa: E731
    plan = [("reference", "first run", challenge.reference_dir, "full marks", full, options),
            ("reference", "second run", challenge.reference_dir, "same verdict", full, options),
            ("starter", "starter", challenge.root, "zero", lambda v: v["score"] == 0, options)]
    for mutant in load_mutants(challenge):
        folder = mutant.write(challenge, workdir / "mutant-sources" / mutant.name)
        plan.append(("mutant", mutant.name, folder, "loses points", loses_points, until_failure))

    def run(kind: str, name: str, folder: Path, expectation: str, check, options) -> tuple[dict, dict]:
        verdict = sessions.grade(challenge, folder, workdir / kind / name, options)
        return verdict, {"challenge": challenge.slug, "kind": kind, "name": name, "score": verdict["score"],
                         "max_score": verdict["max_score"], "expected": expectation,
                         "ok": verdict["status"] == "graded" and check(verdict),
                         "seconds": verdict["duration_s"], "errors": verdict.get("errors", [])}

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(lambda step: run(*step), plan))
    (first, _), (second, same) = done[0], done[1]
    same["ok"] = same["ok"] and [t["status"] for t in first["tests"]] == [t["status"] for t in second["tests"]]
    return [row for _, row in done]


def loses_points(verdict: dict) -> bool:
    return any(test["status"] == "failed" for test in verdict["tests"])


def summary(rows: list[dict]) -> dict:
    """Per challenge: the reference's grading time and how many mutants were caught."""
    mutants = [r for r in rows if r["kind"] == "mutant"]
    return {"challenge": rows[0]["challenge"],
            "reference_seconds": min(r["seconds"] for r in rows if r["kind"] == "reference"),
            "mutants_caught": sum(r["ok"] for r in mutants), "mutants": len(mutants),
            "all_ok": all(r["ok"] for r in rows)}
