"""JUnit XML: one testcase per test; points, reason and figures as properties (as pytest's
``record_property`` writes them); grader errors are ``<error>``, wrong answers ``<failure>``."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections import Counter

from pytest_diffchallenge.verdict import Status, Verdict

FILE = "junit.xml"


def xml(verdict: Verdict) -> str:
    counts = Counter(test.status for test in verdict.tests)
    suites = ElementTree.Element("testsuites")
    suite = ElementTree.SubElement(suites, "testsuite", {
        "name": verdict.challenge, "tests": str(len(verdict.tests)), "failures": str(counts[Status.FAILED]),
        "errors": str(counts[Status.ERROR] + len(verdict.errors)), "skipped": str(len(verdict.skipped)),
        "time": f"{verdict.duration_s:g}"})
    add_properties(suite, {"score": verdict.score, "max_score": verdict.max_score, "status": verdict.status,
                           **{f"environment.{k}": v for k, v in verdict.environment.items()}})
    for error in verdict.errors:
        case = ElementTree.SubElement(suite, "testcase", {"classname": "diffchallenge", "name": "grader"})
        ElementTree.SubElement(case, "error", {"message": first_line(error)}).text = error
    for test in verdict.tests:
        module = test.nodeid.split("::", 1)[0].removesuffix(".py").replace("/", ".")
        case = ElementTree.SubElement(suite, "testcase", {"classname": module, "name": test.name})
        add_properties(case, {"points": test.score, "max_points": test.max_score, "visibility": test.visibility,
                              **({"reason": test.reason} if test.reason else {}),
                              **({"diagnosis": test.diagnosis} if test.diagnosis else {}), **test.figures})
        if test.status is not Status.PASSED:
            element = "failure" if test.status is Status.FAILED else "error"
            message = f"{test.reason}: {first_line(test.message)}"
            ElementTree.SubElement(case, element, {"message": message}).text = test.message
    for skipped in verdict.skipped:
        module = skipped.nodeid.split("::", 1)[0].removesuffix(".py").replace("/", ".")
        case = ElementTree.SubElement(suite, "testcase", {"classname": module, "name": skipped.name})
        ElementTree.SubElement(case, "skipped", {"message": skipped.why})
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def add_properties(parent: ElementTree.Element, values: dict) -> None:
    properties = ElementTree.SubElement(parent, "properties")
    for name, value in values.items():
        text = f"{value:g}" if isinstance(value, float) else str(value)
        ElementTree.SubElement(properties, "property", {"name": name, "value": text})


def first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""
