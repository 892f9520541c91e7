"""The one grading path: run a challenge's tests under the plugin in a trusted pytest session.

``grade`` is the only function that grades a submission, whichever runner asked (``grade``, ``grade-batch``,
``verify``, nbgrader, or the grader inside a Docker container); only how its pytest session starts differs
(a fresh interpreter, ``runners.local``, or a fork of a warm one, ``runners.forkserver``). The session gets
the run's secret through a pipe, writes its verdict into ``out/.session.json`` as it goes, and is killed
with ``processes.kill_tree`` whatever happens. Candidate code runs only in the worker that the session
starts; this module never imports the submission.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from pytest_diffchallenge.artifacts import ARTIFACTS_DIR
from pytest_diffchallenge.metadata import Challenge
from pytest_diffchallenge.processes import kill_tree
from pytest_diffchallenge.sandboxing import SANDBOX_REQUIRED
from pytest_diffchallenge.secret import SECRET_FD_VARIABLE, new_secret
from pytest_diffchallenge.verdict import Reason, Status, Verdict, VerdictError, read_results

SESSION_FILE = ".session.json"  # the session's own verdict, complete or not; read once, then removed
LOG_FILE = "grader.log"
SESSION_MARGIN_S = 300
GRADER_ENVIRONMENT = {"PYTHONDONTWRITEBYTECODE": "1", "TQDM_DISABLE": "1", "TRANSFORMERS_VERBOSITY": "error"}


class GradingError(RuntimeError):
    """The grader could not produce a verdict (an infrastructure fault; never a score of zero)."""


@dataclass(frozen=True)
class GradeOptions:
    device: str = "cpu"
    threads: int = os.cpu_count() or 1
    public_only: bool = False
    in_process: bool = False  # UNSAFE, for benchmarks: see pytest_diffchallenge.inprocess
    stop_at_first_failure: bool = False  # enough to show that a wrong solution loses points
    sandbox: str = SANDBOX_REQUIRED  # grading refuses a worker without its sandbox, unless --no-sandbox
    trace_oracle: bool = False  # verify: each test records which library lines the oracle reached
    artifacts: bool = False  # keep what each test compared, timed and measured in out/artifacts/, for reports
    only: tuple[str, ...] = ()  # run only the tests with these node ids (as the verdict names them); empty: all


class SessionProcess(Protocol):
    pid: int

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if still running after ``timeout`` seconds."""


class Launcher(Protocol):
    """Starts a trusted pytest session: ``runners.local.FreshProcesses`` or ``runners.forkserver.ForkServer``."""

    def start(self, arguments: list[str], environment: dict[str, str], log: Path, secret_fd: int,
              device: str) -> SessionProcess: ...

    def stop_all(self) -> None:
        """Kill every session still running (an interrupted batch)."""


class Runner(Protocol):
    """What the front ends grade with: ``LocalRunner`` here, or ``runners.docker.DockerRunner``."""

    def grade(self, challenge: Challenge, submission: Path, out: Path, options: GradeOptions) -> Verdict: ...

    def stop_all(self) -> None: ...


def pytest_arguments(challenge: Challenge, submission: Path, session_file: Path, scratch: Path,
                     options: GradeOptions, reference: Path | None = None) -> list[str]:
    """The session's command line; its artifacts, if kept, go beside ``session_file`` (in ``out``)."""
    hidden = challenge.hidden_tests
    tests = [challenge.public_tests] + ([hidden] if hidden and hidden.is_file() and not options.public_only else [])
    arguments = [*map(str, tests), "-q", "--no-header", "-p", "no:cacheprovider", "--import-mode=importlib",
                 "--rootdir", str(challenge.root), "-c", os.devnull,
                 "--submission", str(submission), "--diffchallenge-results", str(session_file),
                 "--diffchallenge-scratch", str(scratch),
                 "--diffchallenge-device", options.device, "--diffchallenge-threads", str(options.threads),
                 "--diffchallenge-sandbox", options.sandbox]
    if reference is not None:
        arguments += ["--reference", str(reference)]
    if options.public_only:
        arguments.append("--public-only")
    if options.in_process:
        arguments.append("--diffchallenge-in-process")
    if options.stop_at_first_failure:
        arguments.append("--exitfirst")
    if options.trace_oracle:
        arguments.append("--diffchallenge-trace-oracle")
    if options.artifacts:
        arguments += ["--diffchallenge-artifacts", str(session_file.parent / ARTIFACTS_DIR)]
    arguments += [f"--diffchallenge-only={nodeid}" for nodeid in options.only]  # never taken for an option
    return arguments


def test_count(challenge: Challenge) -> int:
    hidden = challenge.hidden_tests
    sources = [challenge.public_tests] + ([hidden] if hidden and hidden.is_file() else [])
    return sum(path.read_text().count("def test_") for path in sources)


def session_limit(challenge: Challenge) -> float:
    """Generous wall-clock limit for a whole grading session: every test at its limit, plus start-up."""
    return challenge.meta.limits.timeout_s * (test_count(challenge) + 4) * 2 + SESSION_MARGIN_S


def grade(challenge: Challenge, submission: Path, out: Path, options: GradeOptions = GradeOptions(), *,
          reference: Path | None = None, launcher: Launcher | None = None, secret: str | None = None) -> Verdict:
    """Grade ``submission`` (a folder holding solution.py) and return the verdict; the log goes to ``out``.

    ``secret`` reuses a run's secret (``secret.new_secret()``), so that hidden tests draw the same inputs again
    (mutants graded on a candidate's very inputs); by default each grading draws a new one.

    Writing ``results.json`` and the reports is the caller's: ``reports.write_reports``.
    """
    from diffchallenge.runners.local import FreshProcesses

    launcher = launcher or FreshProcesses()
    out.mkdir(parents=True, exist_ok=True)
    session_file = out / SESSION_FILE
    session_file.unlink(missing_ok=True)
    shutil.rmtree(out / ARTIFACTS_DIR, ignore_errors=True)  # an earlier grading's never pass for this one's
    limit = session_limit(challenge)
    # Everything the session and its workers put in a temporary folder goes here, and is removed below.
    scratch = Path(tempfile.mkdtemp(prefix="diffchallenge-grading-"))
    scratch.chmod(0o711)  # a worker running as another user reaches its own folder in here, and lists nothing
    environment = {k: v for k, v in os.environ.items() if k != SECRET_FD_VARIABLE} | GRADER_ENVIRONMENT
    environment["TMPDIR"] = str(scratch)
    arguments = pytest_arguments(challenge, submission.resolve(), session_file.resolve(), scratch, options, reference)
    # The secret goes through a pipe, not the environment: /proc/<pid>/environ would show it to workers.
    secret_read, secret_write = os.pipe()
    os.write(secret_write, (secret or new_secret()).encode())
    os.close(secret_write)
    process = None
    try:
        process = launcher.start(arguments, environment, out / LOG_FILE, secret_read, options.device)
        os.close(secret_read)
        secret_read = -1
        returncode = process.wait(limit)
    finally:
        if secret_read >= 0:
            os.close(secret_read)
        if process is not None:
            kill_tree(process.pid)  # the session, if still running, and anything it left behind
            process.wait(10)
        shutil.rmtree(scratch, ignore_errors=True)
    verdict = session_verdict(out, returncode=returncode, limit_s=limit)
    return verdict.with_(submission=str(submission))


def session_verdict(out: Path, *, returncode: int | None, limit_s: float) -> Verdict:
    """The verdict a session left in ``out``; ``returncode`` None means it overran ``limit_s`` and was killed.

    Tests the session had not finished are failed as timed out when it overran, the grader's errors when it
    died; a session that left no verdict at all is a ``GradingError``.
    """
    session_file = out / SESSION_FILE
    try:
        verdict = read_results(session_file)
    except VerdictError as error:
        log = out / LOG_FILE
        tail = log.read_text(errors="replace")[-2000:] if log.is_file() else "(the session wrote no log either)"
        how = f"ran past its {limit_s:g} s limit" if returncode is None else f"exited with code {returncode}"
        raise GradingError(f"the grading session {how} and left no verdict ({error}):\n{tail}") from None
    finally:
        session_file.unlink(missing_ok=True)
    if not verdict.unfinished:
        return verdict
    if returncode is None:
        message = f"the grading session ran past its {limit_s:g} s limit and was stopped before this test finished"
        ended = [replace(t, status=Status.FAILED, reason=Reason.TIMED_OUT, message=message) for t in verdict.unfinished]
    else:
        message = f"the grading session ended (exit code {returncode}) before this test finished"
        ended = [replace(t, message=message) for t in verdict.unfinished]
    return verdict.with_(tests=verdict.tests + ended, unfinished=[])


class LocalRunner:
    """Grades on this machine, each session from ``launcher`` (default: a fresh interpreter)."""

    def __init__(self, launcher: Launcher | None = None):
        from diffchallenge.runners.local import FreshProcesses

        self.launcher = launcher or FreshProcesses()

    def grade(self, challenge: Challenge, submission: Path, out: Path, options: GradeOptions) -> Verdict:
        return grade(challenge, submission, out, options, launcher=self.launcher)

    def stop_all(self) -> None:
        self.launcher.stop_all()
