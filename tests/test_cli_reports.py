"""Report formats written from a verdict: Gradescope, JUnit XML and the candidate's feedback (no grading)."""

import json
import xml.etree.ElementTree as ElementTree

from diffchallenge.reports import feedback, gradescope, junit
from diffchallenge.reports.results import REPORT_FILES, write_reports
from pytest_diffchallenge.figures import TENSOR_MEMORY_CEILING
from pytest_diffchallenge.metadata import Limits
from pytest_diffchallenge.verdict import Reason, SkippedTest, Status, TestRecord, Verdict, read_results

LIMITS = Limits(timeout_s=5, worker_memory=1500 * 1024**2, tensor_memory=6 * 1024**2, runtime_ratio=3.0)
SECRET_INPUT = "0.123456789"  # stands for anything a hidden test's message could reveal


def result(name, status, points, reason=None, visibility="visible", message="", figures=None, module="test_public"):
    return TestRecord(name=name, nodeid=f"{module}.py::{name}", status=Status(status), max_score=points,
                      visibility=visibility, reason=reason, message=message, figures=figures or {})


def make_verdict(**changes) -> Verdict:
    tests = [
        result("test_small", "passed", 2.0, figures={"max_abs_error": 0.0, "max_rel_error": 0.0,
                                                   "worker_rss_bytes": 300 * 1024**2}),
        result("test_memory", "failed", 1.0, Reason.OVER_MEMORY,
               message="peak tensor memory 8.00 MiB exceeds the ceiling of 6.00 MiB",
               figures={"peak_tensor_memory_bytes": 8 * 1024**2, TENSOR_MEMORY_CEILING: 6 * 1024**2}),
        result("test_speed", "failed", 1.0, Reason.OVER_RUNTIME_BUDGET,
               figures={"candidate_ms": 9.0, "reference_ms": 2.0, "runtime_ratio": 4.5},
               message="too slow: 9.0 ms against the reference's 2.0 ms (ratio 4.50, budget 3)"),
        result("test_secret_values", "failed", 3.0, Reason.WRONG_OUTPUT, "hidden", module="test_hidden",
               message=f"scaled_sum: out: does not match the expected output\n  (0,): {SECRET_INPUT} vs 1.5"),
        result("test_secret_loop", "failed", 2.0, Reason.TIMED_OUT, "hidden", module="test_hidden",
               message="the submission did not finish 'scaled_sum' within the 5 s time limit; its worker was stopped"),
        result("test_secret_pass", "passed", 1.0, visibility="hidden", module="test_hidden"),
    ]
    verdict = Verdict(challenge="toy-challenge", title="Scaled sum", tests=tests, errors=[], duration_s=4.2,
                      environment={"torch": "2.13.0", "diffusers": "0.42.1", "device": "cpu"})
    return verdict.with_(**changes)


def hidden_reason_lines(text: str) -> set[str]:
    section = text.split("## Hidden tests", 1)[1]
    return {line for line in section.splitlines() if line.startswith("- ")}


def test_feedback_gives_each_failure_the_reason_the_verdict_records():
    # The report never guesses from the wording: every message here reads like a time-out.
    misleading = "the submission did not finish 'scaled_sum' within the 5 s time limit; its worker was stopped"
    reasons = [reason for reason in Reason if reason is not Reason.INFRASTRUCTURE]
    tests = [result(f"test_secret_{number}", "failed", 1.0, reason, "hidden", message=misleading,
                    module="test_hidden") for number, reason in enumerate(reasons)]
    tests += [result("test_secret_grader", "error", 1.0, Reason.INFRASTRUCTURE, "hidden", message=misleading,
                     module="test_hidden"),
              result("test_secret_pass", "passed", 1.0, visibility="hidden", module="test_hidden"),
              result("test_public_wrong", "failed", 1.0, Reason.WRONG_OUTPUT, message=misleading)]
    text = feedback.markdown(make_verdict(tests=tests), LIMITS)
    assert {str(reason) for reason in Reason} == {"wrong output", "raised", "not implemented", "timed out",
                                                 "over memory", "over runtime budget", "forbidden API", "crashed",
                                                 "infrastructure"}
    assert hidden_reason_lines(text) == {f"- 1 test: {reason}" for reason in reasons} | {
        "- 1 test: grader error (not counted against you)"}
    assert f"Hidden tests: 1 of {len(reasons) + 2} passed" in text
    assert "Why: wrong output." in text  # a public test's reason, though its message reads like a time-out
    assert "tests: timed out" not in text and "- 2 tests" not in text


def test_gradescope_marks_hidden_tests_hidden_and_sums_the_score():
    report = gradescope.results(make_verdict(), LIMITS)
    assert report["score"] == 3.0 and report["output_format"] == "md"
    by_name = {t["name"]: t for t in report["tests"]}
    assert by_name["test_secret_values"]["visibility"] == "hidden"
    assert by_name["test_small"]["visibility"] == "visible"
    assert by_name["test_small"]["status"] == "passed" and by_name["test_memory"]["status"] == "failed"
    assert by_name["test_memory"]["extra_data"]["reason"] == "over memory"
    assert by_name["test_small"]["extra_data"]["reason"] is None
    assert sum(t["score"] for t in report["tests"]) == report["score"]
    assert sum(t["max_score"] for t in report["tests"]) == 10.0
    assert SECRET_INPUT not in report["output"], "the top-level output is what students see"
    json.dumps(report)


def test_junit_has_points_and_figures_as_properties():
    root = ElementTree.fromstring(junit.xml(make_verdict()).split("?>", 1)[1])
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "4", "0")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    speed = {p.get("name"): p.get("value") for p in cases["test_speed"].iter("property")}
    assert speed["points"] == "0" and speed["max_points"] == "1" and speed["runtime_ratio"] == "4.5"
    assert speed["reason"] == "over runtime budget"
    assert cases["test_speed"].find("failure").get("message") == (
        "over runtime budget: too slow: 9.0 ms against the reference's 2.0 ms (ratio 4.50, budget 3)")
    assert cases["test_small"].find("failure") is None
    assert "reason" not in {p.get("name") for p in cases["test_small"].iter("property")}
    assert cases["test_secret_values"].get("classname") == "test_hidden"
    suite_properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert suite_properties["score"] == "3" and suite_properties["environment.torch"] == "2.13.0"


def test_feedback_shows_public_detail_and_hides_hidden_tests():
    text = feedback.markdown(make_verdict(), LIMITS)
    assert "**Score: 3 / 10**" in text
    assert "exceeds the ceiling of 6.00 MiB" in text
    assert "peak tensor memory 8.00 MiB (budget 6.00 MiB)" in text
    assert "4.5x, budget 3x" in text
    assert "worker resident memory 300.00 MiB (limit 1500.00 MiB)" in text
    assert "Why: over memory." in text and "Why: over runtime budget." in text
    assert "Hidden tests: 1 of 3 passed (1 / 6 points)" in text
    assert hidden_reason_lines(text) == {"- 1 test: wrong output", "- 1 test: timed out"}
    for secret in (SECRET_INPUT, "test_secret_values", "test_secret_loop", "scaled_sum", "test_hidden.py"):
        assert secret not in text


def test_infrastructure_error_is_never_reported_as_a_score(tmp_path):
    tests = [result("test_small", "error", 2.0, Reason.INFRASTRUCTURE, message="GraderError: the oracle failed")]
    verdict = make_verdict(tests=tests, errors=["could not collect"])
    assert (verdict.status, verdict.score, verdict.max_score) == ("error", 0.0, 2.0)
    written = {path.name for path in write_reports(verdict, tmp_path, LIMITS)}
    assert written == {"results.json", "junit.xml", "feedback.md"}, "no gradescope.json: Gradescope shows a failed run"
    feedback_text = (tmp_path / "feedback.md").read_text()
    assert "This is not a score" in feedback_text and "Score:" not in feedback_text
    assert "Why: grader error (not counted against you)." in feedback_text
    suite = ElementTree.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite.get("errors") == "2" and suite.get("failures") == "0"
    assert read_results(tmp_path / "results.json").status == "error"


def test_format_selection_writes_only_the_requested_reports(tmp_path):
    written = {path.name for path in write_reports(make_verdict(), tmp_path, LIMITS, formats=("junit",))}
    assert written == {"results.json", "junit.xml"}
    assert {path.name for path in tmp_path.iterdir()} == written
    assert read_results(tmp_path / "results.json").score == 3.0
    assert set(REPORT_FILES) == {"results.json", "gradescope.json", "junit.xml", "feedback.md"}


def skipped(name: str, visibility: str) -> SkippedTest:
    return SkippedTest(name=name, nodeid=f"t.py::{name}", visibility=visibility, why="needs the reference solution")


def test_results_json_round_trips_the_verdict(tmp_path):
    verdict = make_verdict(submission="alice.zip", skipped=[skipped("test_speed", "visible")])
    write_reports(verdict, tmp_path, LIMITS)
    assert read_results(tmp_path / "results.json") == verdict


def test_a_skipped_hidden_test_is_only_counted_in_the_feedback():
    verdict = make_verdict(skipped=[skipped("test_speed", "visible"), skipped("test_secret_gpu_path", "hidden")])
    text = feedback.markdown(verdict, LIMITS)
    assert "`test_speed`: needs the reference solution" in text and "- 1 hidden tests" in text
    assert "test_secret_gpu_path" not in text
    assert "test_secret_gpu_path" in junit.xml(verdict)  # graders see it
