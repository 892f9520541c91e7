"""The trusted engine against hostile submissions: the verdict stays true and the report stays valid, down to its
figures and every test's message (the hostile corpus, tests/test_hostile.py, grades every other classic and
checks the damage)."""

import time

from conftest import TOY, by_name

from diffchallenge.grading import grade
from pytest_diffchallenge.client import WorkerClient
from pytest_diffchallenge.figures import TENSOR_MEMORY_CEILING
from pytest_diffchallenge.metadata import load_challenge
from pytest_diffchallenge.verdict import Status, Verdict


def assert_valid(verdict: Verdict) -> None:
    assert verdict.status == "graded", verdict.errors
    assert verdict.max_score == 6
    assert [t.name for t in verdict.tests] == ["test_small", "test_memory", "test_secret_inputs"]


def test_correct_solution_scores_full_marks_with_figures(grade_toy):
    verdict = grade_toy("correct")
    assert_valid(verdict)
    assert verdict.score == 6
    tests = by_name(verdict)
    assert tests["test_secret_inputs"].visibility == "hidden"
    assert tests["test_small"].visibility == "visible"
    assert 0 < tests["test_memory"].figures["peak_tensor_memory_bytes"] <= 6 * 1024**2
    assert tests["test_small"].figures["max_abs_error"] == 0.0
    assert verdict.environment["torch"].startswith("2.")


def test_starter_scores_zero_with_a_readable_message(tmp_path):
    verdict = grade(load_challenge(TOY), TOY, tmp_path)
    assert_valid(verdict)
    assert verdict.score == 0
    for test in verdict.tests:
        assert test.status is Status.FAILED
        assert "NotImplementedError: scaled_sum is not implemented yet" in test.message


def test_tampering_with_checks_changes_nothing(grade_toy):
    verdict = grade_toy("tampers_with_checks")
    assert_valid(verdict)
    assert verdict.score == 0
    assert all("does not match" in t.message or "constant" in t.message for t in verdict.tests)


def test_forged_results_file_is_overwritten_and_the_daemon_reaped(grade_toy, tmp_path):
    verdict = grade_toy("writes_results")
    assert_valid(verdict)
    assert verdict.score == 0
    out = tmp_path / "writes_results" / "out"
    time.sleep(3)  # the forger's daemon would write the session's file again within this time, had it survived
    assert sorted(path.name for path in out.iterdir()) == ["grader.log"]


def test_infinite_loop_times_out_and_later_tests_are_not_run(grade_toy):
    verdict = grade_toy("infinite_loop")
    assert_valid(verdict)
    messages = [t.message for t in verdict.tests]
    assert "did not finish 'scaled_sum' within the 5 s time limit" in messages[0]
    assert "within the 5 s time limit" in messages[1]
    assert messages[2] == "not run: the submission already timed out in 2 tests"
    assert all(t.status is Status.FAILED for t in verdict.tests)


def test_tensor_memory_ceiling(grade_toy):
    tests = by_name(grade_toy("tensor_memory_hog"))
    assert tests["test_small"].status is Status.PASSED
    assert tests["test_memory"].status is Status.FAILED
    assert "exceeds the ceiling of 6.00 MiB" in tests["test_memory"].message
    assert tests["test_memory"].figures["peak_tensor_memory_bytes"] > 6 * 1024**2
    assert tests["test_memory"].figures[TENSOR_MEMORY_CEILING] == 6 * 1024**2, "the reports show the ceiling applied"


def test_probes_that_take_a_device_get_the_grading_device(tmp_path):
    """The device reaches probes that declare it (GPU variants build their models there), and only those."""
    (tmp_path / "solution.py").write_text("")
    probes = tmp_path / "probes.py"
    probes.write_text("def on_device(solution, device='unset'):\n    return {'device': device}\n\n"
                      "def anywhere(solution):\n    return {'device': 'none asked'}\n")
    worker = WorkerClient(solution_dir=tmp_path, probes=probes, forbidden=[], device="cpu")
    try:
        assert worker.call("on_device") == {"device": "cpu"}
        assert worker.call("anywhere") == {"device": "none asked"}
    finally:
        worker.stop()
