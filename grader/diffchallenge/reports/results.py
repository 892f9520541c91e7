"""results.json and the reports beside it, written from one verdict in one place."""

from __future__ import annotations

import json
from pathlib import Path

from diffchallenge.reports import feedback, gradescope, html, junit
from pytest_diffchallenge.metadata import Limits
from pytest_diffchallenge.verdict import RESULTS_FILE, Verdict, write_atomically, write_results

FORMATS = {"gradescope": gradescope.FILE, "junit": junit.FILE, "feedback": feedback.FILE, "html": html.FILE}
# html only on request: it needs the reports extra, and artifacts kept by the grading to show more than the verdict
DEFAULT_FORMATS = ("gradescope", "junit", "feedback")
REPORT_FILES = (RESULTS_FILE, *(FORMATS[name] for name in DEFAULT_FORMATS))  # what every grading writes


def write_reports(verdict: Verdict, out: Path, limits: Limits, formats=DEFAULT_FORMATS,
                  audience: str = html.INTERVIEWER) -> list[Path]:
    """Write results.json and the requested reports into ``out``; return the files written.

    Gradescope's file is not written for a verdict with grader errors: Gradescope then reports a failed
    autograder run, not a zero. report.html is for ``audience`` and shows the artifacts kept in ``out``, if any.
    """
    written = [out / RESULTS_FILE]
    write_results(written[0], verdict)
    for name in formats:
        if name == "gradescope" and verdict.status == "error":
            continue
        path = out / FORMATS[name]
        if name == "gradescope":
            text = json.dumps(gradescope.results(verdict, limits), indent=2)
        elif name == "junit":
            text = junit.xml(verdict)
        elif name == "html":
            from pytest_diffchallenge.artifacts import read_artifacts  # imports torch: not at `list`'s start-up

            text = html.render(verdict, limits, read_artifacts(out), audience)
        else:
            text = feedback.markdown(verdict, limits)
        write_atomically(path, text)
        written.append(path)
    return written


def remove_reports(out: Path) -> None:
    """Remove the reports of an earlier grading, so that a failed regrade cannot leave stale ones behind."""
    for name in (RESULTS_FILE, *FORMATS.values()):
        (out / name).unlink(missing_ok=True)
