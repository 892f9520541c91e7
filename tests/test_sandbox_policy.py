"""Grading and the worker's sandbox: refused where a required layer is missing, recorded where one is
emulated away, off only when asked.

Older kernels are emulated through $DIFFCHALLENGE_SANDBOX_EMULATE (``sandboxing.EMULATION_VARIABLE``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import HOSTILE, TOY_BANK

from pytest_diffchallenge.sandboxing import EMULATION_VARIABLE
from pytest_diffchallenge.verdict import RESULTS_FILE, Reason, Status, read_results

BIN = Path(sys.executable).parent


def run_grade(tmp_path: Path, source: str, *options: str, emulate: dict | None = None) -> subprocess.CompletedProcess:
    """`diffchallenge grade` of a toy solution; the solution leaves `ran` in tmp_path when its code runs."""
    (tmp_path / "solution.py").write_text(source.replace("MARKER", str(tmp_path / "ran")))
    env = {**os.environ, "DIFFCHALLENGE_BANK": str(TOY_BANK)}
    if emulate is not None:
        env[EMULATION_VARIABLE] = json.dumps(emulate)
    return subprocess.run([BIN / "diffchallenge", "grade", tmp_path / "solution.py", "--challenge", "toy-challenge",
                           "--out", tmp_path / "out", *options], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=600)


LEAVES_A_MARK = (HOSTILE / "correct.py").read_text() + '''
try:
    open("MARKER", "w").close()
except OSError:
    pass
'''


def test_grading_refuses_a_machine_without_seccomp_and_runs_nothing(tmp_path):
    graded = run_grade(tmp_path, LEAVES_A_MARK, emulate={"seccomp": False})
    assert graded.returncode == 3, graded.stderr[-2000:]
    verdict = read_results(tmp_path / "out" / RESULTS_FILE)
    assert verdict.status == "error" and verdict.score == 0
    for test in verdict.tests:
        assert test.status is Status.ERROR and test.reason is Reason.INFRASTRUCTURE
        assert "sandbox is incomplete" in test.message and "seccomp: missing" in test.message
        assert "--no-sandbox" in test.message
    assert verdict.sandbox["seccomp"].startswith("missing:")
    assert verdict.sandbox["landlock-filesystem"].startswith("held")
    assert not (tmp_path / "ran").exists(), "the submission ran although its worker was refused"


def test_grading_refuses_a_machine_without_landlock(tmp_path):
    graded = run_grade(tmp_path, LEAVES_A_MARK, emulate={"landlock_abi_max": 0})
    assert graded.returncode == 3
    verdict = read_results(tmp_path / "out" / RESULTS_FILE)
    assert all("landlock-filesystem: missing" in test.message for test in verdict.tests)
    assert not (tmp_path / "ran").exists()


def test_no_sandbox_grades_and_says_so(tmp_path):
    graded = run_grade(tmp_path, LEAVES_A_MARK, "--no-sandbox", emulate={"seccomp": False})
    assert graded.returncode == 0, graded.stderr[-2000:]
    verdict = read_results(tmp_path / "out" / RESULTS_FILE)
    assert verdict.score == verdict.max_score == 6
    assert verdict.sandbox == {"sandbox": "off: --no-sandbox"} and "no sandbox" in verdict.isolation
    assert (tmp_path / "ran").exists(), "unconfined, the submission can write where it likes: the test above can fail"


def test_an_older_kernel_grades_with_the_missing_layer_recorded(tmp_path):
    """Landlock ABI 4 (Ubuntu 24.04's kernel) scopes no signals: seccomp still keeps the parent out of reach."""
    kills_its_parent = (HOSTILE / "correct.py").read_text() + '''
import os, signal
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError:
    pass
'''
    graded = run_grade(tmp_path, kills_its_parent, emulate={"landlock_abi_max": 4})
    assert graded.returncode == 0, graded.stderr[-2000:]
    verdict = read_results(tmp_path / "out" / RESULTS_FILE)
    assert verdict.score == verdict.max_score == 6, [t.message for t in verdict.tests]
    assert verdict.sandbox["landlock-filesystem"] == "held (ABI 4)"
    assert verdict.sandbox["landlock-signals"].startswith("missing:") and "ABI 6" in verdict.sandbox["landlock-signals"]
    assert verdict.sandbox["seccomp"].startswith("held")
    assert "without landlock-signals" in verdict.isolation


def test_a_full_sandbox_is_recorded(grade_toy):
    verdict = grade_toy("correct")
    assert verdict.score == 6
    assert all(verdict.sandbox[layer].startswith("held") for layer in
               ("landlock-filesystem", "landlock-network", "landlock-signals", "seccomp"))
    assert verdict.isolation.startswith("worker process, sandboxed: ")
