"""The class page of a batch (``grade-batch --format html``): ``index.html`` beside the students' folders.

One self-contained file (no request leaves it: the histogram is an inline PNG, the styles are inline): the
score distribution, each test's pass rate and the class's most common known mistakes (the diagnoses of failed
tests), one row per student linking to ``<student>/report.html``, and the pairs of similar solutions
(``diffchallenge.similarity``) side by side with their matching code marked. Everything a student supplied
(names, messages, code) is escaped by jinja2's autoescape; names in links are percent-encoded.

Like the student's report, it needs the ``reports`` extra (and copydetect, for the similarity), imported only
when a page is made; ``require_extra`` says what is missing before a batch starts.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from diffchallenge.reports import gradebook, html
from diffchallenge.reports.gradebook import Outcome
from pytest_diffchallenge.metadata import Challenge
from pytest_diffchallenge.verdict import Status, TestRecord, Verdict, write_atomically

if TYPE_CHECKING:
    from diffchallenge.similarity import Region, Similarity

FILE = "index.html"
HISTOGRAM_BINS = 20


def require_extra() -> None:
    html.require_extra()
    if importlib.util.find_spec("copydetect") is None:
        raise html.ReportsExtraMissing(f"the class page's code similarity needs copydetect: pip install "
                                       f"'{html.EXTRA}' (the reports extra)")


@dataclass(frozen=True)
class PassRate:
    """How the graded students did on one test."""

    name: str
    hidden: bool
    max_score: float
    passed: int
    graded: int
    mistakes: tuple[tuple[str, int], ...]  # (diagnosis, students), most common first

    @property
    def rate(self) -> float:
        return self.passed / self.graded


@dataclass(frozen=True)
class StudentRow:
    """A student's gradebook row, as shown."""

    student: str
    status: str
    score: str  # "4/6", or "" without a graded verdict
    tests_passed: str  # "2/3", or ""
    message: str
    report: str  # relative URL of the student's report, or "" when it has none


def histogram(scores: list[float], points: float) -> str:
    """The score distribution, as a data: URI."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from diffchallenge.reports import charts

    with rc_context(charts.STYLE):
        figure = Figure(figsize=(7.2, 2.6))
        axes = figure.subplots()
        axes.hist(scores, bins=HISTOGRAM_BINS, range=(0, points), color="tab:blue", edgecolor="white")
        axes.set_xlabel(f"score (of {points:g} points)")
        axes.set_ylabel("students")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        figure.tight_layout()
        return html.data_uri(charts.png(figure))


def graded(outcomes: list[Outcome]) -> list[Verdict]:
    return [outcome.verdict for outcome in outcomes if outcome.status == "graded" and outcome.verdict is not None]


def pass_rates(outcomes: list[Outcome]) -> list[PassRate]:
    """Each test's pass rate among the graded students, the hardest first (ties in the tests' order)."""
    records: dict[str, list[TestRecord]] = {}
    for verdict in graded(outcomes):
        for test in verdict.tests:
            records.setdefault(test.name, []).append(test)
    rates = []
    for name, tests in records.items():
        mistakes = Counter(test.diagnosis for test in tests if test.diagnosis and test.status is not Status.PASSED)
        rates.append(PassRate(name, tests[0].hidden, tests[0].max_score,
                              sum(test.status is Status.PASSED for test in tests), len(tests),
                              tuple(mistakes.most_common())))
    return sorted(rates, key=lambda rate: rate.rate)


def report_link(student: str) -> str:
    """The relative URL of a student's report: the name percent-encoded whole (no "/", ":" or "?" survives)."""
    return f"{quote(student, safe='')}/{html.FILE}"


def student_rows(outcomes: list[Outcome], out: Path) -> list[StudentRow]:
    """The gradebook's rows, each linked to the student's report if there is one."""
    return [StudentRow(row["student"], row["status"],
                       "" if row["score"] is None else f"{row['score']:g}/{row['max_score']:g}",
                       "" if row["score"] is None else f"{row['tests_passed']}/{row['tests_total']}", row["message"],
                       report_link(row["student"]) if (out / row["student"] / html.FILE).is_file() else "")
            for row in gradebook.rows(outcomes)]


def marked_lines(source: str, regions: tuple[Region, ...]) -> list[list[tuple[str, bool]]]:
    """``source`` as lines of (text, matched) pieces, the regions marked: what the side-by-side view shows."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for region in sorted(regions, key=lambda region: region.start):
        start = max(region.start, position)
        pieces += [(source[position:start], False), (source[start:region.end], True)]
        position = max(position, region.end)
    pieces.append((source[position:], False))
    lines: list[list[tuple[str, bool]]] = [[]]
    for text, matched in pieces:
        for index, part in enumerate(text.split("\n")):
            if index:
                lines.append([])
            if part:
                lines[-1].append((part, matched))
    return lines[:-1] if len(lines) > 1 and not lines[-1] else lines  # no empty line after the final newline


def line_ranges(regions: tuple[Region, ...]) -> str:
    """The regions' lines, as "lines 3-9, 12"."""
    spans = [f"{r.first_line}" if r.first_line == r.last_line else f"{r.first_line}-{r.last_line}" for r in regions]
    return f"lines {', '.join(spans)}" if spans else "no lines"


def template():
    return html.templates().get_template("overview.html.j2",
                                         globals={"marked_lines": marked_lines, "line_ranges": line_ranges})


def render(challenge: Challenge, outcomes: list[Outcome], similarity: Similarity, out: Path) -> str:
    scores = [verdict.score for verdict in graded(outcomes)]
    counts = Counter(outcome.status for outcome in outcomes)
    return template().render(
        challenge=challenge.meta, students=len(outcomes), counts=counts, scores=scores,
        histogram=histogram(scores, max([challenge.meta.points, *scores])) if scores else "",
        rates=pass_rates(outcomes), rows=student_rows(outcomes, out), similarity=similarity)


def write(out: Path, challenge: Challenge, outcomes: list[Outcome], similarity: Similarity) -> Path:
    """Write ``out/index.html``, the class page of ``outcomes``."""
    path = out / FILE
    write_atomically(path, render(challenge, outcomes, similarity, out))
    return path
