"""One outcome per fact: a submission that runs out of time is a graded failure with reason "timed out",
whichever front end graded it (`grade`, `grade-batch`, `grade --runner docker`, `nbgrader autograde`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HOSTILE, TOY_BANK

from diffchallenge.grading import SESSION_FILE, session_verdict
from pytest_diffchallenge.verdict import RESULTS_FILE, Reason, Status, TestRecord, Verdict, read_results, write_results

BIN = Path(sys.executable).parent
HANG = (HOSTILE / "infinite_loop.py").read_text()
TOY_ENV = {**os.environ, "DIFFCHALLENGE_BANK": str(TOY_BANK), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def run(*command, cwd=None, env=TOY_ENV) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def assert_timed_out(verdict: Verdict) -> None:
    assert verdict.status == "graded", verdict.errors
    assert verdict.score == 0 and verdict.tests
    assert {(t.status, t.reason) for t in verdict.tests} == {(Status.FAILED, Reason.TIMED_OUT)}, \
        [(t.name, t.status, t.reason, t.message[:80]) for t in verdict.tests]


def test_grade(tmp_path):
    (tmp_path / "solution.py").write_text(HANG)
    process = run(BIN / "diffchallenge", "grade", tmp_path / "solution.py", "--challenge", "toy-challenge",
                  "--out", tmp_path / "out")
    assert process.returncode == 0, process.stderr[-2000:]
    assert_timed_out(read_results(tmp_path / "out" / RESULTS_FILE))


def test_grade_batch(tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "hangs.py").write_text(HANG)
    shutil.copyfile(TOY_BANK / "solutions" / "toy-challenge" / "solution.py", submissions / "right.py")
    process = run(BIN / "diffchallenge", "grade-batch", submissions, "--challenge", "toy-challenge",
                  "--out", tmp_path / "out", "--jobs", "2")
    assert process.returncode == 0, process.stderr[-2000:]
    assert_timed_out(read_results(tmp_path / "out" / "hangs" / RESULTS_FILE))
    assert read_results(tmp_path / "out" / "right" / RESULTS_FILE).score == 6


def test_nbgrader_autograde(tmp_path):
    import nbformat

    course, assignment = tmp_path / "course", "practice"
    for command in ((BIN / "diffchallenge", "nbgrader", "export", "toy-challenge", "--course", course,
                     "--assignment", assignment),
                    (BIN / "nbgrader", "generate_assignment", assignment)):
        process = run(*command, cwd=course if command[0].name == "nbgrader" else None)
        assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-2000:]
    notebook = nbformat.read(course / "release" / assignment / "toy-challenge.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "solution")
    cell.source = f"%%solution toy-challenge\n{HANG}"
    submitted = course / "submitted" / "hangs" / assignment / "toy-challenge.ipynb"
    submitted.parent.mkdir(parents=True)
    nbformat.write(notebook, submitted)
    process = run(BIN / "diffchallenge", "nbgrader", "autograde", assignment, "--course", course)
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-2000:]
    assert "not graded" not in process.stdout
    reports = course / "autograded" / "hangs" / assignment / "diffchallenge" / "toy-challenge"
    assert_timed_out(read_results(reports / RESULTS_FILE))


def test_docker_runner(tmp_path):
    from diffchallenge.grading import GradingError
    from diffchallenge.runners.docker import docker_client

    try:
        docker_client()
    except GradingError as error:
        pytest.skip(f"no Docker engine reachable: {error}")
    (tmp_path / "solution.py").write_text("while True:\n    pass\n")  # hangs as soon as it is imported
    env = {k: v for k, v in TOY_ENV.items() if k != "DIFFCHALLENGE_BANK"}  # the image holds the real bank
    # Killed by the container's wall clock before the worker's own limits fire: the session's partial verdict.
    process = run(BIN / "diffchallenge", "grade", tmp_path / "solution.py", "--challenge", "ddim-step",
                  "--public-only", "--runner", "docker", "--wall-clock", "40", "--out", tmp_path / "out", env=env)
    assert process.returncode == 0, process.stderr[-3000:]
    assert_timed_out(read_results(tmp_path / "out" / RESULTS_FILE))


def record(name: str, status=Status.PASSED, reason=None) -> TestRecord:
    return TestRecord(name=name, nodeid=f"t.py::{name}", status=status, reason=reason, max_score=1,
                      visibility="visible")


def test_a_session_that_overran_fails_its_unfinished_tests_as_timed_out(tmp_path):
    pending = record("test_b", Status.ERROR, Reason.INFRASTRUCTURE)
    write_results(tmp_path / SESSION_FILE, Verdict("toy", "Toy", tests=[record("test_a")], unfinished=[pending]))
    verdict = session_verdict(tmp_path, returncode=None, limit_s=12)
    assert [(t.name, t.status, t.reason) for t in verdict.tests] == [
        ("test_a", Status.PASSED, None), ("test_b", Status.FAILED, Reason.TIMED_OUT)]
    assert "ran past its 12 s limit" in verdict.tests[1].message and verdict.status == "graded"
    assert not (tmp_path / SESSION_FILE).exists()


def test_a_session_that_died_leaves_its_unfinished_tests_as_grader_errors(tmp_path):
    pending = record("test_b", Status.ERROR, Reason.INFRASTRUCTURE)
    write_results(tmp_path / SESSION_FILE, Verdict("toy", "Toy", tests=[record("test_a")], unfinished=[pending]))
    verdict = session_verdict(tmp_path, returncode=-9, limit_s=12)
    assert verdict.tests[1].status is Status.ERROR and verdict.status == "error"
    assert "exit code -9" in verdict.tests[1].message
