"""report.html: one grading as a self-contained page (inline CSS, images as data: PNG, no script, no request).

Two audiences. The interviewer's page (the default) shows everything: public and hidden tests with their
messages, figures, images of outputs and charts, grader errors and the sandbox. The candidate's page shows
what feedback.md shows of the public tests, in full, and of the hidden tests only their points together (which
the total score gives away anyway): no name, message, reason, count, figure, image or diagnosis of any hidden
test, and no grader error (it may name one).

jinja2 and matplotlib (the ``reports`` extra) are imported when a page is rendered, so that the command line
runs without them; ``require_extra`` says what is missing before a grading starts.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from diffchallenge.exits import UsageError
from diffchallenge.reports import feedback
from pytest_diffchallenge.metadata import Limits
from pytest_diffchallenge.verdict import TestRecord, Verdict

if TYPE_CHECKING:
    from pytest_diffchallenge.artifacts import Comparison, RuntimeSamples, TestArtifacts

FILE = "report.html"
INTERVIEWER, CANDIDATE = "interviewer", "candidate"
AUDIENCES = (INTERVIEWER, CANDIDATE)
EXTRA = "diffchallenge[reports]"
MAX_IMAGES = 12  # comparisons drawn per report; the rest are listed with their numbers


class ReportsExtraMissing(UsageError):
    """The HTML report's libraries are not installed."""


def require_extra() -> None:
    missing = [name for name in ("jinja2", "matplotlib") if importlib.util.find_spec(name) is None]
    if missing:
        raise ReportsExtraMissing(f"the HTML report needs {' and '.join(missing)}: "
                                  f"pip install '{EXTRA}' (the reports extra)")


@dataclass(frozen=True)
class ComparisonView:
    name: str
    shape: str
    tolerance: str
    max_abs_error: str
    psnr: str = ""  # only for a drawn image
    image: str = ""  # a data: URI
    shown_as: str = ""
    scale: str = ""
    not_drawn: str = ""  # why there is no image, when that is worth saying


@dataclass(frozen=True)
class ReportedTest:
    record: TestRecord
    why: str
    diagnosis: str
    figures: list[str]
    comparisons: list[ComparisonView]
    memory_chart: str = ""
    runtime_chart: str = ""
    runtime_summary: str = ""


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def decibels(value: float | None) -> str:
    if value is None:
        return "undefined (constant expected output, or a non-finite candidate output)"
    return "infinite (identical)" if value == math.inf else f"{value:.1f} dB"


def comparison_view(comparison: Comparison, may_draw: bool) -> ComparisonView:
    from diffchallenge.reports import charts

    got, expected = charts.as_array(comparison.got), charts.as_array(comparison.expected)
    common = {"name": comparison.name, "shape": " x ".join(map(str, expected.shape)) or "scalar",
              "tolerance": f"rtol {comparison.rtol:g}, atol {comparison.atol:g}"}
    if got.shape != expected.shape:
        return ComparisonView(**common, max_abs_error="-", not_drawn=f"shapes differ: the candidate's is "
                                                                       f"{' x '.join(map(str, got.shape))}")
    error = f"{charts.max_abs_error(got, expected):.3g}"
    if comparison.cut:
        return ComparisonView(**common, max_abs_error=error,
                              not_drawn=f"only its first {expected.size} elements were kept: not drawn")
    planes, got_planes = charts.image_planes(expected), charts.image_planes(got)
    if planes is None or got_planes is None:
        return ComparisonView(**common, max_abs_error=error)
    if not may_draw:
        return ComparisonView(**common, max_abs_error=error,
                              not_drawn=f"not drawn: a report draws at most {MAX_IMAGES} images")
    try:
        images = charts.output_images(planes, got_planes)
    except (ValueError, ArithmeticError, MemoryError) as fault:  # a picture is never worth a lost report
        return ComparisonView(**common, max_abs_error=error, not_drawn=f"could not be drawn: {fault}")
    return ComparisonView(**common, max_abs_error=error, psnr=decibels(charts.psnr_db(got, expected)),
                          image=data_uri(images.png), shown_as=images.shown_as + batch_note(expected.shape),
                          scale=f"{images.difference_scale:.3g}")


def batch_note(shape: tuple[int, ...]) -> str:
    items = math.prod(shape[:-3])
    return f" (the first of {items} in the batch)" if items > 1 else ""


def runtime_summary(samples: RuntimeSamples) -> str:
    if min(samples.reference_s) == 0:
        return f"a reference run took no time: no ratio (budget {samples.budget:g}x)"
    ratio = samples.ratio  # as the budget judged it
    verdict = "within" if ratio <= samples.budget else "over"
    return (f"median ratio candidate / reference {ratio:.2f}, {verdict} the budget of {samples.budget:g}x "
            f"({len(samples.candidate_s)} candidate and {len(samples.reference_s)} reference runs)")


@dataclass
class ImageBudget:
    left: int = MAX_IMAGES


def reported_tests(tests: list[TestRecord], limits: Limits, artifacts: dict[str, TestArtifacts],
                   budget: ImageBudget) -> list[ReportedTest]:
    """Each test with what its artifacts show, drawing images while the report's budget lasts."""
    from diffchallenge.reports import charts

    views = []
    for test in tests:
        kept = artifacts.get(test.nodeid)
        comparisons = []
        for comparison in kept.comparisons if kept else ():
            view = comparison_view(comparison, may_draw=budget.left > 0)
            budget.left -= bool(view.image)
            comparisons.append(view)
        memory = kept.memory if kept else None
        runtime = kept.runtime if kept else None
        views.append(ReportedTest(
            record=test, why=feedback.why(test.reason) if test.reason else "",
            diagnosis=feedback.diagnosis_line(test.diagnosis) if test.diagnosis else "",
            figures=feedback.describe_figures(test.figures, limits), comparisons=comparisons,
            memory_chart=data_uri(charts.memory_chart(memory)) if memory else "",
            runtime_chart=data_uri(charts.runtime_chart(runtime.candidate_s, runtime.reference_s, runtime.budget))
            if runtime else "",
            runtime_summary=runtime_summary(runtime) if runtime else ""))
    return views


@functools.cache
def templates():
    """The reports' templates (this page's and the class page's): everything they show is escaped."""
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("diffchallenge.reports", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(verdict: Verdict, limits: Limits, artifacts: dict[str, TestArtifacts], audience: str = INTERVIEWER) -> str:
    """The page for ``audience``; ``artifacts`` by nodeid, as ``artifacts.read_artifacts`` gives them."""
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r} (one of {', '.join(AUDIENCES)})")
    require_extra()
    interviewer = audience == INTERVIEWER
    public_tests = [t for t in verdict.tests if not t.hidden]
    hidden_tests = [t for t in verdict.tests if t.hidden]
    budget = ImageBudget()
    public = reported_tests(public_tests, limits, artifacts, budget)
    # A candidate's page never even looks at a hidden test's artifacts.
    hidden = reported_tests(hidden_tests, limits, artifacts, budget) if interviewer else []
    return templates().get_template("report.html.j2").render(
        verdict=verdict, interviewer=interviewer, public=public, hidden=hidden,
        public_points=points(public_tests), hidden_points=points(hidden_tests), marks=feedback.MARKS,
        skipped_public=[t for t in verdict.skipped if not t.hidden],
        skipped_hidden=[t for t in verdict.skipped if t.hidden] if interviewer else [],
        runner={key: json.dumps(value) for key, value in verdict.runner.items()})


def points(tests: list[TestRecord]) -> tuple[float, float]:
    """(earned, possible)."""
    return sum(t.score for t in tests), sum(t.max_score for t in tests)
