"""Report formats written from a verdict: Gradescope, JUnit XML and the candidate's feedback (no grading)."""

import json
import xml.etree.ElementTree as ElementTree

from diffchallenge.bank import Limits
from diffchallenge.reports import feedback_markdown, gradescope, junit_xml, reason_class, write_reports

LIMITS = Limits(timeout_s=5, worker_memory=1500 * 1024**2, tensor_memory=6 * 1024**2, runtime_ratio=3.0)
SECRET_INPUT = "0.123456789"  # stands for anything a hidden test's message could reveal


def result(name, status, points, visibility="visible", message="", figures=None, module="test_public"):
    return {"name": name, "nodeid": f"{module}.py::{name}", "status": status,
            "score": points if status == "passed" else 0.0, "max_score": points, "visibility": visibility,
            "message": message, "figures": figures or {}}


def make_verdict(**changes):
    tests = [
        result("test_small", "passed", 2.0, figures={"max_abs_error": 0.0, "max_rel_error": 0.0,
                                                   "worker_rss_bytes": 300 * 1024**2}),
        result("test_memory", "failed", 1.0, message="peak tensor memory 8.00 MiB exceeds the ceiling of 6.00 MiB",
             figures={"peak_tensor_memory_bytes": 8 * 1024**2}),
        result("test_speed", "failed", 1.0, figures={"candidate_ms": 9.0, "reference_ms": 2.0, "runtime_ratio": 4.5},
             message="too slow: 9.0 ms against the reference's 2.0 ms (ratio 4.50, budget 3)"),
        result("test_secret_values", "failed", 3.0, "hidden", module="test_hidden",
             message=f"scaled_sum: out: does not match the expected output\n  (0,): {SECRET_INPUT} vs 1.5"),
        result("test_secret_loop", "failed", 2.0, "hidden", module="test_hidden",
             message="the submission did not finish 'scaled_sum' within the 5 s time limit; its worker was stopped"),
        result("test_secret_pass", "passed", 1.0, "hidden", module="test_hidden"),
    ]
    verdict = {"challenge": "toy-challenge", "title": "Scaled sum", "status": "graded", "score": 3.0,
               "max_score": 10.0, "tests": tests, "errors": [], "duration_s": 4.2,
               "environment": {"torch": "2.13.0", "diffusers": "0.42.1", "device": "cpu"}}
    return verdict | changes


def test_reason_classes_from_the_engines_messages():
    cases = {
        "the submission did not finish 'scaled_sum' within the 5 s time limit; its worker was stopped": "timed out",
        "not run: the submission already timed out in 2 tests": "timed out",
        "the submission's worker used 1.6 GiB of resident memory, over its 1500.00 MiB limit": "over memory",
        "the submission raised MemoryError: can't allocate memory": "over memory",
        "peak tensor memory 8.00 MiB exceeds the ceiling of 6.00 MiB": "over memory",
        "the submission raised ForbiddenAPIError: torch.add is forbidden in this challenge": "called a forbidden API",
        "the submission raised ImportError: solution.py could not be imported: SyntaxError":
            "solution.py could not be imported",
        "the submission's worker was killed by signal SIGSEGV during 'scaled_sum'": "crashed",
        "the submission's worker exited with code 3 during 'scaled_sum'": "crashed",
        "the submission raised ValueError: bad shape": "raised an exception",
        "out: does not match the expected output\n  3 of 6 elements differ": "wrong output",
    }
    for message, reason in cases.items():
        assert reason_class({"status": "failed", "message": message}) == reason, message
    assert reason_class({"status": "passed", "message": ""}) is None
    assert reason_class({"status": "error", "message": "x"}).startswith("grader error")


def test_gradescope_marks_hidden_tests_hidden_and_sums_the_score():
    report = gradescope(make_verdict(), LIMITS)
    assert report["score"] == 3.0 and report["output_format"] == "md"
    by_name = {t["name"]: t for t in report["tests"]}
    assert by_name["test_secret_values"]["visibility"] == "hidden"
    assert by_name["test_small"]["visibility"] == "visible"
    assert by_name["test_small"]["status"] == "passed" and by_name["test_memory"]["status"] == "failed"
    assert sum(t["score"] for t in report["tests"]) == report["score"]
    assert sum(t["max_score"] for t in report["tests"]) == 10.0
    assert SECRET_INPUT not in report["output"], "the top-level output is what students see"
    json.dumps(report)


def test_junit_has_points_and_figures_as_properties():
    root = ElementTree.fromstring(junit_xml(make_verdict()).split("?>", 1)[1])
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "4", "0")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    speed = {p.get("name"): p.get("value") for p in cases["test_speed"].iter("property")}
    assert speed["points"] == "0" and speed["max_points"] == "1" and speed["runtime_ratio"] == "4.5"
    assert cases["test_speed"].find("failure").get("message").startswith("too slow")
    assert cases["test_small"].find("failure") is None
    assert cases["test_secret_values"].get("classname") == "test_hidden"
    suite_properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert suite_properties["score"] == "3" and suite_properties["environment.torch"] == "2.13.0"


def test_feedback_shows_public_detail_and_hides_hidden_tests():
    text = feedback_markdown(make_verdict(), LIMITS)
    assert "**Score: 3 / 10**" in text
    assert "exceeds the ceiling of 6.00 MiB" in text
    assert "peak tensor memory 8.00 MiB (budget 6.00 MiB)" in text
    assert "4.5x, budget 3x" in text
    assert "worker resident memory 300.00 MiB (limit 1500.00 MiB)" in text
    assert "Hidden tests: 1 of 3 passed (1 / 6 points)" in text
    assert "- 1 test: wrong output" in text and "- 1 test: timed out" in text
    for secret in (SECRET_INPUT, "test_secret_values", "test_secret_loop", "scaled_sum", "test_hidden.py"):
        assert secret not in text


def test_infrastructure_error_is_never_reported_as_a_score(tmp_path):
    tests = [result("test_small", "error", 2.0, message="GraderError: the oracle failed")]
    verdict = make_verdict(status="error", score=0.0, max_score=2.0, tests=tests, errors=["could not collect"])
    written = {path.name for path in write_reports(verdict, tmp_path, LIMITS)}
    assert written == {"results.json", "junit.xml", "feedback.md"}, "no gradescope.json: Gradescope shows a failed run"
    feedback = (tmp_path / "feedback.md").read_text()
    assert "This is not a score" in feedback and "Score:" not in feedback
    suite = ElementTree.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite.get("errors") == "2" and suite.get("failures") == "0"


def test_format_selection_writes_only_the_requested_reports(tmp_path):
    written = {path.name for path in write_reports(make_verdict(), tmp_path, LIMITS, formats=("junit",))}
    assert written == {"results.json", "junit.xml"}
    assert {path.name for path in tmp_path.iterdir()} == written
    assert json.loads((tmp_path / "results.json").read_text())["score"] == 3.0
