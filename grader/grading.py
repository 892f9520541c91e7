"""Grade one submission: run the challenge's tests under the plugin in a trusted pytest process.

The pytest process compares, counts and writes ``results.json``; candidate code runs only in the
worker that the plugin starts. This module never imports the submission.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from diffchallenge.bank import Challenge
from pytest_diffchallenge.plugin import SECRET_FD_VARIABLE

RESULTS_FILE = "results.json"
LOG_FILE = "grader.log"
SESSION_MARGIN_S = 300
GRADER_ENVIRONMENT = {"PYTHONDONTWRITEBYTECODE": "1", "TQDM_DISABLE": "1"}  # for the trusted pytest session


class GradingError(RuntimeError):
    """The grader could not produce a verdict (an infrastructure fault; never a score of zero)."""


@dataclass(frozen=True)
class GradeOptions:
    device: str = "cpu"
    threads: int = os.cpu_count() or 1
    public_only: bool = False
    in_process: bool = False  # UNSAFE, for benchmarks: see InProcessClient
    stop_at_first_failure: bool = False  # enough to show that a wrong solution loses points


def pytest_command(challenge: Challenge, submission: Path, results: Path, options: GradeOptions,
                   reference: Path | None = None) -> list[str]:
    tests = [challenge.public_tests] + ([] if options.public_only or not challenge.hidden_tests.exists()
                                        else [challenge.hidden_tests])
    command = [sys.executable, "-m", "pytest", *map(str, tests), "-q", "--no-header", "-p", "no:cacheprovider",
               "--import-mode=importlib", "--rootdir", str(challenge.root), "-c", os.devnull,
               "--submission", str(submission), "--diffchallenge-results", str(results),
               "--diffchallenge-device", options.device, "--diffchallenge-threads", str(options.threads)]
    if reference is not None:
        command += ["--reference", str(reference)]
    if options.public_only:
        command.append("--public-only")
    if options.in_process:
        command.append("--diffchallenge-in-process")
    if options.stop_at_first_failure:
        command.append("--exitfirst")
    return command


def session_limit(challenge: Challenge) -> float:
    """Generous wall-clock limit for a whole grading session: every test at its limit, plus start-up."""
    source = challenge.public_tests.read_text() + (challenge.hidden_tests.read_text()
                                                   if challenge.hidden_tests.exists() else "")
    return challenge.meta.limits.timeout_s * (source.count("def test_") + 4) * 2 + SESSION_MARGIN_S


def grade(challenge: Challenge, submission: Path, out: Path, options: GradeOptions = GradeOptions(),
          reference: Path | None = None) -> dict:
    """Grade ``submission`` (a folder holding solution.py); write ``out/results.json`` and return it."""
    out.mkdir(parents=True, exist_ok=True)
    results = out / RESULTS_FILE
    results.unlink(missing_ok=True)
    # The secret goes through a pipe, not the environment: /proc/<pid>/environ would show it to workers.
    secret_read, secret_write = os.pipe()
    os.write(secret_write, secrets.token_hex(16).encode())
    os.close(secret_write)
    env = {**os.environ, SECRET_FD_VARIABLE: str(secret_read), **GRADER_ENVIRONMENT}
    command = pytest_command(challenge, submission.resolve(), results.resolve(), options, reference)
    with open(out / LOG_FILE, "wb") as log:
        try:
            process = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, pass_fds=(secret_read,),
                                     stdin=subprocess.DEVNULL, timeout=session_limit(challenge))
        except subprocess.TimeoutExpired:
            raise GradingError(f"grading {challenge.slug} did not finish in time; see {out / LOG_FILE}") from None
        finally:
            os.close(secret_read)
    return read_verdict(out, submission, process.returncode)


def read_verdict(out: Path, submission: Path, returncode: int | None) -> dict:
    """The verdict the grading session wrote into ``out``, with the submission's path added."""
    results = out / RESULTS_FILE
    if not results.is_file():
        log = out / LOG_FILE
        tail = log.read_text(errors="replace")[-2000:] if log.is_file() else "(the session wrote no log either)"
        raise GradingError(f"pytest exited with code {returncode} and wrote no verdict:\n{tail}")
    verdict = json.loads(results.read_text())
    verdict["submission"] = str(submission)
    results.write_text(json.dumps(verdict, indent=2))
    return verdict
