"""Code similarity between the students of a batch: copydetect's fingerprints of each solution.py.

copydetect (Stanford MOSS's winnowing) tokenizes each source, replaces names by V/F/O and string literals by S
(renaming a variable changes nothing), drops comments and whitespace, and fingerprints every run of
``NOISE_CHARACTERS`` characters of what is left. Scaffolding every student was given never counts: the lines
of the challenge's starter are blanked in each solution first (so that no match runs across them either), and
the starter's fingerprints are removed (copydetect's boilerplate).

A solution's similarity to another is the share of its remaining fingerprinted code that also appears in the
other, from 0 (nothing in common) to 1 (all of it). It is not symmetric: a short solution pasted inside a long
one is 1 for the short one. A pair is listed when either share is above the threshold.

Only text is read here: no submission is imported or run. copydetect (the ``reports`` extra) and numpy are
imported when solutions are compared: the command line reads DEFAULT_THRESHOLD without them.
"""

from __future__ import annotations

import io
import tempfile
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

from diffchallenge.submissions import SOLUTION_FILE, SubmissionRefused, open_submission

DEFAULT_THRESHOLD = 0.8
NOISE_CHARACTERS = 25  # copydetect's default: shorter matches of filtered code are noise
MAX_COMPARED_BYTES = 1024**2  # a larger solution.py is not compared (tokenizing it would stall the batch)

if TYPE_CHECKING:
    import numpy as np
    from copydetect import CodeFingerprint


@dataclass(frozen=True)
class Region:
    """A matched stretch of one source: characters [start, end), on lines first_line..last_line (from 1)."""

    start: int
    end: int
    first_line: int
    last_line: int


@dataclass(frozen=True)
class Match:
    """One side of a similar pair."""

    student: str
    source: str
    similarity: float  # the share of this student's code found in the other's
    regions: tuple[Region, ...]


@dataclass(frozen=True)
class SimilarPair:
    first: Match
    second: Match

    @property
    def similarity(self) -> float:
        return max(self.first.similarity, self.second.similarity)


@dataclass(frozen=True)
class Similarity:
    """The pairs above ``threshold``, most similar first, and the students not compared, with why."""

    threshold: float
    pairs: tuple[SimilarPair, ...]
    compared: int
    skipped: tuple[tuple[str, str], ...]


def read_solution(source: Path) -> str:
    """The text of a submission's solution.py, opened and checked as grading opens it (``SubmissionRefused``)."""
    with tempfile.TemporaryDirectory(prefix="diffchallenge-similarity-") as scratch:
        solution = open_submission(source, Path(scratch) / "submission").folder / SOLUTION_FILE
        if solution.stat().st_size > MAX_COMPARED_BYTES:
            raise SubmissionRefused(f"its {SOLUTION_FILE} is larger than {MAX_COMPARED_BYTES} bytes")
        with tokenize.open(solution) as text:  # its declared encoding, as open_submission checked it
            return text.read()


def fingerprint(source: str, boilerplate: np.ndarray) -> CodeFingerprint:
    from copydetect import CodeFingerprint

    # The file name only tells copydetect's tokenizer the language; the text comes from fp.
    return CodeFingerprint(SOLUTION_FILE, NOISE_CHARACTERS, 1, boilerplate, fp=io.StringIO(source))


def without_starter(source: str, starter_lines: set[str]) -> str:
    """``source`` with the starter's lines blanked: spaces of the same length keep every offset and line."""
    return "\n".join(" " * len(line) if line.strip() in starter_lines else line for line in source.split("\n"))


def regions(source: str, blanked: str, slices: np.ndarray) -> tuple[Region, ...]:
    """copydetect's copied slices (starts in row 0, ends in row 1: offsets into the source) as regions of the
    source, trimmed of whitespace and cut at the starter's lines (blank in ``blanked``, ``without_starter``)."""
    runs: list[tuple[int, int]] = []
    for start, end in zip(*slices, strict=True):
        run: tuple[int, int] | None = None
        offset = int(start)
        for line, kept in zip(source[start:end].split("\n"), blanked[start:end].split("\n"), strict=True):
            if kept.strip():
                run = (run[0] if run else offset + len(kept) - len(kept.lstrip()), offset + len(kept.rstrip()))
            elif line.strip() and run:  # a starter line
                runs.append(run)
                run = None
            offset += len(line) + 1
        if run:
            runs.append(run)
    return tuple(Region(start, end, source.count("\n", 0, start) + 1, source.count("\n", 0, end - 1) + 1)
                 for start, end in runs)


def compare(sources: Mapping[str, str], starter: str, threshold: float = DEFAULT_THRESHOLD,
            skipped: Mapping[str, str] | None = None) -> Similarity:
    """Compare every pair of ``sources`` (student -> solution text), the starter's code removed first."""
    import numpy as np
    from copydetect import compare_files

    boilerplate = np.unique(np.array(list(fingerprint(starter, np.array([])).hashes)))
    starter_lines = {line.strip() for line in starter.split("\n")}
    blanked = {student: without_starter(text, starter_lines) for student, text in sources.items()}
    prints = {student: fingerprint(text, boilerplate) for student, text in blanked.items()}

    def match(student: str, share: float, slices: np.ndarray) -> Match:
        return Match(student, sources[student], float(share), regions(sources[student], blanked[student], slices))

    pairs = []
    for first, second in combinations(sources, 2):
        _, shares, (first_slices, second_slices) = compare_files(prints[first], prints[second])
        if max(shares) > threshold:
            pairs.append(SimilarPair(match(first, shares[0], first_slices), match(second, shares[1], second_slices)))
    pairs.sort(key=lambda pair: (-pair.similarity, pair.first.student, pair.second.student))
    return Similarity(threshold, tuple(pairs), len(sources), tuple(sorted((skipped or {}).items())))


def compare_submissions(submissions: Mapping[str, Path], starter: Path,
                        threshold: float = DEFAULT_THRESHOLD) -> Similarity:
    """Compare the students' submissions (student -> folder, .py or .zip); a refused one is listed as skipped."""
    sources: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for student, path in submissions.items():
        try:
            sources[student] = read_solution(path)
        except SubmissionRefused as refusal:
            skipped[student] = str(refusal)
    return compare(sources, starter.read_text(encoding="utf-8"), threshold, skipped)
