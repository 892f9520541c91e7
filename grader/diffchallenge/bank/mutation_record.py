"""The record of a mutation analysis, ``solutions/<slug>/mutation.toml``: what ``diffchallenge verify --mutate
SLUG --record`` found, and the author's reason for each survivor that is equivalent to the reference.

Apart from ``bank.mutation`` (which imports cosmic-ray) so that the catalog reads scores quickly.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from diffchallenge.bank.mutants import reference_dir
from pytest_diffchallenge.metadata import Challenge, ChallengeFormatError

RECORD_FILE = "mutation.toml"


@dataclass(frozen=True)
class Equivalent:
    id: str
    reason: str  # one line: why no test can tell this mutant from the reference; empty until the author says
    description: str = ""


@dataclass(frozen=True)
class Record:
    reference_sha256: str
    cosmic_ray: str
    mutants: int
    killed: int
    survived: int
    errors: int
    equivalent: tuple[Equivalent, ...]

    @property
    def explained(self) -> set[str]:
        return {entry.id for entry in self.equivalent if entry.reason.strip()}

    @property
    def score(self) -> float:
        counted = self.mutants - len(self.explained)
        return self.killed / counted if counted else 1.0


def record_file(challenge: Challenge) -> Path:
    return reference_dir(challenge) / RECORD_FILE


def reference_sha256(challenge: Challenge) -> str:
    return hashlib.sha256((reference_dir(challenge) / "solution.py").read_bytes()).hexdigest()


def read_record(path: Path) -> Record:
    try:
        data = tomllib.loads(path.read_text())
        return Record(reference_sha256=data["reference_sha256"], cosmic_ray=data["cosmic_ray"],
                      mutants=data["mutants"], killed=data["killed"], survived=data["survived"],
                      errors=data["errors"],
                      equivalent=tuple(Equivalent(e["id"], e.get("reason", ""), e.get("description", ""))
                                       for e in data.get("equivalent", [])))
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as error:
        raise ChallengeFormatError(f"{path}: not a mutation record: {type(error).__name__}: {error}") from None


def previous_record(challenge: Challenge) -> Record | None:
    path = record_file(challenge)
    return read_record(path) if path.is_file() else None


def toml_string(text: str) -> str:
    """A TOML basic string: JSON's, with DEL escaped too (JSON leaves it as it is, TOML refuses it)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def write_record(path: Path, record: Record) -> None:
    text = toml_string
    lines = ["# Mutation analysis of solution.py: `diffchallenge verify --mutate SLUG --record` writes this file.",
             "# Give each survivor that is equivalent to the reference (no test can tell them apart) a one-line",
             "# reason; a survivor without one is a weakness of the tests: add a test that kills it.",
             f"reference_sha256 = {text(record.reference_sha256)}", f"cosmic_ray = {text(record.cosmic_ray)}",
             f"mutants = {record.mutants}", f"killed = {record.killed}", f"survived = {record.survived}",
             f"errors = {record.errors}", f"score = {record.score:.4f}"]
    for entry in record.equivalent:
        lines += ["", "[[equivalent]]", f"id = {text(entry.id)}",
                  f"description = {text(entry.description)}",
                  f"reason = {text(entry.reason)}"]
    path.write_text("\n".join(lines) + "\n")


def record_is_current(challenge: Challenge) -> str | None:
    """None when mutation.toml was made from this reference and gives every survivor a reason; else why not."""
    path = record_file(challenge)
    if not path.is_file():
        return f"{path} is missing: run diffchallenge verify --mutate {challenge.slug} --record"
    try:
        record = read_record(path)
    except ChallengeFormatError as error:
        return str(error)
    if record.reference_sha256 != reference_sha256(challenge):
        return f"{path} was made from another solution.py: run diffchallenge verify --mutate {challenge.slug} --record"
    if unexplained := [entry.id for entry in record.equivalent if not entry.reason.strip()]:
        return f"{path}: {len(unexplained)} survivors without a reason: {', '.join(unexplained)}"
    return None


def catalog_score(challenge: Challenge) -> str:
    """The catalog's mutation score: killed of the mutants not recorded as equivalent; '-' without a record."""
    path = challenge.reference_dir / RECORD_FILE if challenge.reference_dir else None
    if path is None or not path.is_file():
        return "-"
    try:
        return f"{read_record(path).score:.1%}"
    except ChallengeFormatError:
        return "unreadable"
