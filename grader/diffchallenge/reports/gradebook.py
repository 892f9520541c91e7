"""The gradebook of a batch: one row per student, as JSON and CSV.

Only a graded verdict has a score: a student with an infrastructure error or a refused submission has
none (never a zero), and the message says why.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from pytest_diffchallenge.metadata import Challenge
from pytest_diffchallenge.verdict import Status, Verdict, write_atomically

CSV_FILE = "gradebook.csv"
JSON_FILE = "gradebook.json"


@dataclass
class Outcome:
    student: str
    status: str  # graded | error | refused
    message: str = ""
    verdict: Verdict | None = None
    seconds: float = 0.0
    resumed: bool = False


def rows(outcomes: list[Outcome]) -> list[dict]:
    table = []
    for outcome in outcomes:
        tests = outcome.verdict.tests if outcome.verdict is not None and outcome.status == "graded" else []
        graded = bool(tests)
        table.append({
            "student": outcome.student, "status": outcome.status,
            "score": sum(t.score for t in tests) if graded else None,
            "max_score": sum(t.max_score for t in tests) if graded else None,
            "public_score": sum(t.score for t in tests if not t.hidden) if graded else None,
            "hidden_score": sum(t.score for t in tests if t.hidden) if graded else None,
            "tests_passed": sum(t.status is Status.PASSED for t in tests) if graded else None,
            "tests_total": len(tests) if graded else None,
            "seconds": outcome.seconds, "message": outcome.message,
            "tests": {t.name: t.score for t in tests}})
    return table


def write(out: Path, challenge: Challenge, outcomes: list[Outcome]) -> None:
    table = rows(outcomes)
    write_atomically(out / JSON_FILE, json.dumps(
        {"challenge": challenge.slug, "title": challenge.meta.title, "points": challenge.meta.points,
         "students": table}, indent=2))
    test_names = list(dict.fromkeys(name for row in table for name in row["tests"]))
    columns = [c for c in table[0] if c != "tests"] if table else []
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns + test_names)
    for row in table:
        writer.writerow(["" if row[c] is None else row[c] for c in columns]
                        + [row["tests"].get(name, "") for name in test_names])
    write_atomically(out / CSV_FILE, buffer.getvalue())
