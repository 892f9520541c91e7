"""Reports written from a verdict (results.json): for Gradescope, for JUnit readers and for the candidate.

- ``gradescope.json``: Gradescope's results format; hidden tests carry ``visibility: hidden``. It is not
  written for a verdict with grader errors: Gradescope then reports a failed autograder run, not a zero.
- ``junit.xml``: one testcase per test, points and measured figures as properties (as pytest's
  ``record_property`` writes them); grader errors are ``<error>``, wrong answers ``<failure>``.
- ``feedback.md``: what a candidate may see. Public tests in detail; hidden tests only as a count passed and
  a short reason class for each failure, never their names, code, inputs or messages.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

from diffchallenge.bank import Limits
from diffchallenge.grading import RESULTS_FILE
from pytest_diffchallenge.memory import format_size

GRADESCOPE_FILE = "gradescope.json"
JUNIT_FILE = "junit.xml"
FEEDBACK_FILE = "feedback.md"
FORMATS = {"gradescope": GRADESCOPE_FILE, "junit": JUNIT_FILE, "feedback": FEEDBACK_FILE}
REPORT_FILES = (RESULTS_FILE, *FORMATS.values())

# Reason classes for a failed test, from the engine's messages; the first match wins.
REASONS = (
    ("timed out", ("time limit", "already timed out")),
    ("over memory", ("resident memory", "exceeds the ceiling", "MemoryError", "can't allocate memory")),
    ("called a forbidden API", ("forbidden in this challenge",)),
    ("solution.py could not be imported", ("could not be imported",)),
    ("crashed", ("worker exited", "killed by signal", "closed its channel", "worker could not start")),
    ("too slow", ("too slow",)),
    ("raised an exception", ("the submission raised",)),
)


def reason_class(test: dict) -> str | None:
    """A short, safe description of why a test did not pass (None when it passed)."""
    if test["status"] == "passed":
        return None
    if test["status"] == "skipped":
        return "skipped"
    if test["status"] == "error":
        return "grader error (not counted against you)"
    for reason, fragments in REASONS:
        if any(fragment in test["message"] for fragment in fragments):
            return reason
    return "wrong output"


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def write_reports(verdict: dict, out: Path, limits: Limits, formats=tuple(FORMATS)) -> list[Path]:
    """Write results.json and the requested reports into ``out``; return the files written."""
    written = [out / RESULTS_FILE]
    write_atomically(written[0], json.dumps(verdict, indent=2, allow_nan=False))
    for name in formats:
        if name == "gradescope" and verdict["status"] == "error":
            continue
        path = out / FORMATS[name]
        text = {"gradescope": lambda: json.dumps(gradescope(verdict, limits), indent=2),
                "junit": lambda: junit_xml(verdict),
                "feedback": lambda: feedback_markdown(verdict, limits)}[name]()
        write_atomically(path, text)
        written.append(path)
    return written


def remove_reports(out: Path) -> None:
    """Remove the reports of an earlier grading, so that a failed regrade cannot leave stale ones behind."""
    for name in REPORT_FILES:
        (out / name).unlink(missing_ok=True)


# -- Gradescope -----------------------------------------------------------------------------------------------
def gradescope(verdict: dict, limits: Limits) -> dict:
    tests = []
    for number, test in enumerate(verdict["tests"], start=1):
        tests.append({
            "score": test["score"], "max_score": test["max_score"], "name": test["name"], "number": str(number),
            "status": "passed" if test["status"] == "passed" else "failed",
            "output": test["message"] or ("skipped" if test["status"] == "skipped" else ""),
            "output_format": "text", "tags": [test["visibility"]],
            "visibility": "hidden" if test["visibility"] == "hidden" else "visible",
            "extra_data": {"nodeid": test["nodeid"], "figures": test["figures"]},
        })
    return {
        "score": verdict["score"],
        "execution_time": round(verdict.get("duration_s", 0)),
        "output": feedback_markdown(verdict, limits),
        "output_format": "md",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {"challenge": verdict["challenge"], "max_score": verdict["max_score"],
                       "environment": verdict.get("environment", {})},
        "tests": tests,
    }


# -- JUnit XML ------------------------------------------------------------------------------------------------
def junit_xml(verdict: dict) -> str:
    counts = Counter(test["status"] for test in verdict["tests"])
    suites = ElementTree.Element("testsuites")
    suite = ElementTree.SubElement(suites, "testsuite", {
        "name": str(verdict["challenge"]), "tests": str(len(verdict["tests"])), "failures": str(counts["failed"]),
        "errors": str(counts["error"] + len(verdict.get("errors", []))), "skipped": str(counts["skipped"]),
        "time": f"{verdict.get('duration_s', 0):g}"})
    add_properties(suite, {"score": verdict["score"], "max_score": verdict["max_score"], "status": verdict["status"],
                           **{f"environment.{k}": v for k, v in verdict.get("environment", {}).items()}})
    for error in verdict.get("errors", []):
        case = ElementTree.SubElement(suite, "testcase", {"classname": "diffchallenge", "name": "grader"})
        ElementTree.SubElement(case, "error", {"message": first_line(error)}).text = error
    for test in verdict["tests"]:
        module = test["nodeid"].split("::", 1)[0].removesuffix(".py").replace("/", ".")
        case = ElementTree.SubElement(suite, "testcase", {"classname": module, "name": test["name"]})
        add_properties(case, {"points": test["score"], "max_points": test["max_score"],
                              "visibility": test["visibility"], **test["figures"]})
        if test["status"] in ("failed", "error"):
            element = "failure" if test["status"] == "failed" else "error"
            ElementTree.SubElement(case, element, {"message": first_line(test["message"])}).text = test["message"]
        elif test["status"] == "skipped":
            ElementTree.SubElement(case, "skipped", {"message": first_line(test["message"])})
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def add_properties(parent: ElementTree.Element, values: dict) -> None:
    properties = ElementTree.SubElement(parent, "properties")
    for name, value in values.items():
        text = f"{value:g}" if isinstance(value, float) else str(value)
        ElementTree.SubElement(properties, "property", {"name": name, "value": text})


def first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


# -- feedback.md ----------------------------------------------------------------------------------------------
def describe_figures(figures: dict, limits: Limits) -> list[str]:
    """Measured figures in words, each against its budget when the challenge sets one."""
    lines = []
    if "peak_tensor_memory_bytes" in figures:
        budget = f" (budget {format_size(limits.tensor_memory)})" if limits.tensor_memory else ""
        lines.append(f"peak tensor memory {format_size(figures['peak_tensor_memory_bytes'])}{budget}")
    if "worker_rss_bytes" in figures:
        lines.append(f"worker resident memory {format_size(figures['worker_rss_bytes'])} "
                     f"(limit {format_size(limits.worker_memory)})")
    if "runtime_ratio" in figures:
        budget = f", budget {limits.runtime_ratio:g}x" if limits.runtime_ratio else ""
        lines.append(f"runtime {figures.get('candidate_ms', '?')} ms against the reference's "
                     f"{figures.get('reference_ms', '?')} ms ({figures['runtime_ratio']}x{budget})")
    if "max_abs_error" in figures:
        lines.append(f"largest error {figures['max_abs_error']:.3g} "
                     f"(relative to the output's scale {figures.get('max_rel_error', 0):.3g})")
    shown = {"peak_tensor_memory_bytes", "worker_rss_bytes", "runtime_ratio", "candidate_ms", "reference_ms",
             "max_abs_error", "max_rel_error"}
    lines += [f"{name}: {value}" for name, value in figures.items() if name not in shown]
    return lines


def feedback_markdown(verdict: dict, limits: Limits) -> str:
    public = [t for t in verdict["tests"] if t["visibility"] != "hidden"]
    hidden = [t for t in verdict["tests"] if t["visibility"] == "hidden"]
    lines = [f"# {verdict['challenge']}: {verdict['title']}", ""]
    if verdict["status"] == "error":
        lines += ["**The grader could not finish grading this submission. This is not a score: it will be "
                  "graded again.**", ""]
    else:
        lines += [f"**Score: {verdict['score']:g} / {verdict['max_score']:g}**", ""]
    if public:
        earned = sum(t["score"] for t in public)
        lines += [f"## Public tests: {earned:g} / {sum(t['max_score'] for t in public):g} points", ""]
        for test in public:
            mark = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "SKIP"}[test["status"]]
            lines.append(f"### {mark} `{test['name']}` ({test['score']:g}/{test['max_score']:g})")
            if figures := describe_figures(test["figures"], limits):
                lines += [""] + [f"- {line}" for line in figures]
            if test["status"] != "passed":
                lines += ["", f"Why: {reason_class(test)}."]
            if test["message"]:
                lines += ["", "```text", test["message"].replace("```", "'''"), "```"]
            lines.append("")
    if hidden:
        passed = sum(t["status"] == "passed" for t in hidden)
        lines += [f"## Hidden tests: {passed} of {len(hidden)} passed "
                  f"({sum(t['score'] for t in hidden):g} / {sum(t['max_score'] for t in hidden):g} points)", ""]
        reasons = Counter(reason_class(t) for t in hidden if t["status"] != "passed")
        lines += [f"- {count} {'test' if count == 1 else 'tests'}: {reason}" for reason, count in reasons.most_common()]
        lines += ["", "Hidden tests use inputs you have not seen; their details stay with the graders.", ""]
    return "\n".join(lines).rstrip() + "\n"
