"""No leftovers: one worker per role per grading, and every temporary folder removed after every grading,
even when it is interrupted (Ctrl-C) or its trusted session crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import HOSTILE, TOY_BANK

from pytest_diffchallenge.verdict import RESULTS_FILE, read_results

BIN = Path(sys.executable).parent


def test_one_worker_per_role(grade_toy):
    verdict = grade_toy("counts_workers")
    assert verdict.score == verdict.max_score == 6, [t.message[:200] for t in verdict.tests]


def grading(tmp_path: Path, submission: str) -> tuple[subprocess.Popen, Path]:
    """`diffchallenge grade` of a toy submission with a private TMPDIR, so that its leftovers can be seen."""
    private = tmp_path / "tmp"
    private.mkdir()
    (tmp_path / "solution.py").write_text((HOSTILE / f"{submission}.py").read_text())
    env = {**os.environ, "TMPDIR": str(private), "DIFFCHALLENGE_BANK": str(TOY_BANK)}
    process = subprocess.Popen([BIN / "diffchallenge", "grade", tmp_path / "solution.py", "--challenge",
                                "toy-challenge", "--out", tmp_path / "out"], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return process, private


def processes_using(folder: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(folder).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_for_worker(private: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(b"pytest_diffchallenge.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
               for pid in processes_using(private) if Path(f"/proc/{pid}").exists()):
            return
        time.sleep(0.2)
    raise AssertionError("no worker started")


def assert_nothing_left(private: Path) -> None:
    deadline = time.monotonic() + 10  # workers notice their closed channel and exit
    while processes_using(private) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes_using(private), "processes of the grading are still running"
    assert sorted(path.name for path in private.iterdir()) == []


def test_nothing_left_after_a_grading(tmp_path):
    process, private = grading(tmp_path, "correct")
    assert process.wait(timeout=300) == 0, process.stderr.read()[-2000:]
    assert_nothing_left(private)


def test_nothing_left_after_ctrl_c(tmp_path):
    process, private = grading(tmp_path, "infinite_loop")
    wait_for_worker(private)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    assert_nothing_left(private)


def test_nothing_left_after_the_trusted_session_crashes(tmp_path):
    process, private = grading(tmp_path, "infinite_loop")
    wait_for_worker(private)
    session = next(pid for pid in processes_using(private)
                   if b"-m\0pytest\0" in Path(f"/proc/{pid}/cmdline").read_bytes())
    os.kill(session, signal.SIGKILL)
    assert process.wait(timeout=60) == 3  # an infrastructure error: the grader's own session died
    verdict = read_results(tmp_path / "out" / RESULTS_FILE)  # still a valid report, saying what happened
    assert verdict.status == "error" and "session ended (exit code -9)" in verdict.tests[0].message
    assert_nothing_left(private)
