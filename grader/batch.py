"""Batch grading: one submission per student, one result folder per student, and a gradebook.

Speed without weaker isolation. Each grading still gets a fresh trusted pytest process and a fresh worker
for the candidate's code, exactly as ``diffchallenge grade`` does. What is reused is a warm interpreter for
the trusted side: a fork server (``multiprocessing``'s forkserver) imports torch, diffusers, pytest and the
plugin once, and each grading's trusted process is forked from it. The fork server never runs candidate
code and never holds a secret; every forked process makes its own secret, so each student's hidden inputs
stay unpredictable. ``--jobs N`` runs N gradings at once with cores / N threads each (oversubscribed
threads make tiny-model forwards many times slower).

Resuming: a student whose folder holds a results.json with status "graded" is skipped unless ``force``.
Refused submissions and infrastructure errors are recorded as such (never as a zero) and tried again
on the next run.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from diffchallenge import bank, reports
from diffchallenge.grading import (GRADER_ENVIRONMENT, LOG_FILE, RESULTS_FILE, GradeOptions, GradingError,
                                   pytest_command, read_verdict, session_limit)
from diffchallenge.submissions import SubmissionRefused, open_submission
from pytest_diffchallenge.plugin import SECRET_FD_VARIABLE

GRADEBOOK_CSV = "gradebook.csv"
GRADEBOOK_JSON = "gradebook.json"
OUTCOME_FILE = "outcome.json"  # why a student has no verdict: refused or an infrastructure error
# Imported once by the fork server. Missing ones are skipped by multiprocessing, so the list may name
# optional heavy modules that most challenges' probes import.
PRELOAD = ["torch", "diffusers", "transformers", "pytest", "pytest_timeout", "pytest_diffchallenge.plugin",
           "pytest_diffchallenge.recipes", "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion",
           "diffchallenge.batch"]


class BatchError(ValueError):
    """Bad usage of grade-batch: exit code 2."""


@dataclass
class Outcome:
    student: str
    status: str  # graded | error | refused
    message: str = ""
    verdict: dict | None = None
    seconds: float = 0.0
    resumed: bool = False


# -- finding the submissions -----------------------------------------------------------------------------------
def find_submissions(folder: Path) -> dict[str, Path]:
    """Student name -> submission (a subfolder, a .zip or a .py file), in name order."""
    if not folder.is_dir():
        raise BatchError(f"{folder} is not a folder of submissions")
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "__")) or not (entry.is_dir() or entry.suffix in (".zip", ".py")):
            continue
        name = entry.name if entry.is_dir() else entry.stem
        if name in found:
            raise BatchError(f"two submissions for the student {name!r}: {found[name].name} and {entry.name}")
        found[name] = entry
    if not found:
        raise BatchError(f"{folder} holds no submissions (subfolders, .zip or .py files)")
    return found


# -- trusted sessions forked from a warm interpreter ------------------------------------------------------------
def trusted_session(pytest_args: list[str], log_path: str, environment: dict, threads: int) -> None:
    """Runs in a process from the fork server (or spawned): one grading session, output to the grader log."""
    os.environ.clear()
    os.environ.update(environment)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    import pytest
    import torch

    torch.set_num_threads(threads)  # the oracle's share of the cores, like the worker's
    sys.exit(int(pytest.main(pytest_args)))


def kill_process_tree(pid: int) -> None:
    """Kill a trusted session's workers (each leads its own process group), then the session itself."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                os.killpg(int(entry.name), signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            continue
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class TrustedSessions:
    """Starts grading sessions from the fork server, with the same limits as ``grading.grade``.

    Sessions on a GPU are spawned instead: importing diffusers asks CUDA for its device count, and a process
    forked after that can never use CUDA ("Cannot re-initialize CUDA in forked subprocess").
    """

    def __init__(self):
        self.forkserver = multiprocessing.get_context("forkserver")
        self.forkserver.set_forkserver_preload(PRELOAD)
        self.running: set = set()
        self.lock = threading.Lock()

    def context(self, device: str):
        return self.forkserver if device == "cpu" else multiprocessing.get_context("spawn")

    def grade(self, challenge: bank.Challenge, submission: Path, out: Path, options: GradeOptions) -> dict:
        out.mkdir(parents=True, exist_ok=True)
        (out / RESULTS_FILE).unlink(missing_ok=True)
        environment = {k: v for k, v in os.environ.items() if k != SECRET_FD_VARIABLE} | GRADER_ENVIRONMENT
        command = pytest_command(challenge, submission.resolve(), (out / RESULTS_FILE).resolve(), options)
        process = self.context(options.device).Process(target=trusted_session, daemon=True,
                                                       args=(command[3:], str(out / LOG_FILE), environment, options.threads))
        with self.lock:
            process.start()
            self.running.add(process)
        try:
            process.join(session_limit(challenge))
            if process.exitcode is None:
                kill_process_tree(process.pid)
                process.join()
                raise GradingError(f"grading {challenge.slug} did not finish in time; see {out / LOG_FILE}")
        finally:
            with self.lock:
                self.running.discard(process)
        return read_verdict(out, submission, process.exitcode)

    def stop_all(self) -> None:
        with self.lock:
            for process in self.running:
                kill_process_tree(process.pid)


# -- one student ----------------------------------------------------------------------------------------------
def previous_verdict(folder: Path) -> dict | None:
    """The verdict of an earlier run, if it graded the student and wrote every report (else: grade again)."""
    if not all((folder / name).is_file() for name in reports.REPORT_FILES):
        return None
    try:
        verdict = json.loads((folder / RESULTS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return verdict if isinstance(verdict, dict) and verdict.get("status") == "graded" else None


def grade_student(sessions: TrustedSessions, challenge: bank.Challenge, student: str, source: Path, out: Path,
                  options: GradeOptions, force: bool) -> Outcome:
    folder = out / student
    if not force and (verdict := previous_verdict(folder)) is not None:
        return Outcome(student, "graded", verdict=verdict, seconds=verdict.get("duration_s", 0.0), resumed=True)
    folder.mkdir(parents=True, exist_ok=True)
    reports.remove_reports(folder)
    (folder / OUTCOME_FILE).unlink(missing_ok=True)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="diffchallenge-batch-") as scratch:
            submission = open_submission(source, Path(scratch) / "submission")
            verdict = sessions.grade(challenge, submission.folder, folder, options)
        verdict["submission"] = str(source)
        reports.write_reports(verdict, folder, challenge.meta.limits)
        outcome = Outcome(student, "graded" if verdict["status"] == "graded" else "error",
                          message="; ".join(verdict.get("errors", [])), verdict=verdict)
        if outcome.status == "error" and not outcome.message:
            outcome.message = "a test could not be run by the grader; see results.json"
    except SubmissionRefused as refusal:
        outcome = Outcome(student, "refused", message=str(refusal))
    except Exception as error:  # an infrastructure fault for this student only: recorded, never a zero
        outcome = Outcome(student, "error", message=f"{type(error).__name__}: {error}")
    outcome.seconds = round(time.monotonic() - started, 2)
    if outcome.status != "graded":
        reports.write_atomically(folder / OUTCOME_FILE, json.dumps(
            {"student": student, "status": outcome.status, "message": outcome.message}, indent=2))
    return outcome


# -- the batch --------------------------------------------------------------------------------------------------
def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_out_folder(out: Path, challenge: bank.Challenge, force: bool) -> None:
    try:
        earlier = json.loads((out / GRADEBOOK_JSON).read_text()).get("challenge")
    except (OSError, ValueError, AttributeError):
        return
    if earlier != challenge.slug and not force:
        raise BatchError(f"{out} holds a gradebook for {earlier!r}, not {challenge.slug!r}; "
                         f"choose another --out or pass --force")


def grade_batch(challenge: bank.Challenge, submissions: Path, out: Path, *, jobs: int = 1, force: bool = False,
                device: str = "cpu", console: Console | None = None, runner=None) -> list[Outcome]:
    """Grade every submission in ``submissions`` into ``out``; write the gradebook; return the outcomes.

    ``runner``: grades instead of the local trusted sessions (``grade`` and ``stop_all``: the Docker runner).
    """
    students = find_submissions(submissions)
    if jobs < 1:
        raise BatchError("--jobs must be at least 1")
    check_out_folder(out, challenge, force)
    out.mkdir(parents=True, exist_ok=True)
    console = console or Console(stderr=True)
    options = GradeOptions(device=device, threads=max(1, usable_cores() // jobs))
    # Read at import time by the fork server's modules (tqdm, transformers' logging).
    os.environ.update(GRADER_ENVIRONMENT)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    sessions = runner or TrustedSessions()
    outcomes: dict[str, Outcome] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress, ThreadPoolExecutor(max_workers=jobs) as pool:
        task = progress.add_task(f"grading {challenge.slug}", total=len(students))
        futures = {pool.submit(grade_student, sessions, challenge, name, source, out, options, force): name
                   for name, source in students.items()}
        try:
            for future in as_completed(futures):
                outcome = future.result()
                outcomes[outcome.student] = outcome
                progress.console.print(outcome_line(outcome))
                progress.advance(task)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            sessions.stop_all()
            raise
    ordered = [outcomes[name] for name in students]
    write_gradebook(out, challenge, ordered)
    return ordered


def outcome_line(outcome: Outcome) -> str:
    if outcome.status == "graded":
        verdict = outcome.verdict
        note = " (already graded: skipped)" if outcome.resumed else f" in {outcome.seconds:.0f} s"
        return f"[green]{outcome.student}[/]: {verdict['score']:g}/{verdict['max_score']:g}{note}"
    style = "red" if outcome.status == "refused" else "magenta"
    first_line = outcome.message.splitlines()[0] if outcome.message else ""
    return f"[{style}]{outcome.student}: {outcome.status}[/]: {first_line}"


# -- the gradebook ----------------------------------------------------------------------------------------------
def gradebook_rows(outcomes: list[Outcome]) -> list[dict]:
    rows = []
    for outcome in outcomes:
        verdict = outcome.verdict or {}
        tests = verdict.get("tests", []) if outcome.status == "graded" else []
        row = {"student": outcome.student, "status": outcome.status,
               # Only a graded verdict has a score: an error or a refusal is not a zero.
               "score": verdict["score"] if tests else None,
               "max_score": verdict["max_score"] if tests else None,
               "public_score": sum(t["score"] for t in tests if t["visibility"] != "hidden") if tests else None,
               "hidden_score": sum(t["score"] for t in tests if t["visibility"] == "hidden") if tests else None,
               "tests_passed": sum(t["status"] == "passed" for t in tests) if tests else None,
               "tests_total": len(tests) if tests else None,
               "seconds": outcome.seconds, "message": outcome.message,
               "tests": {t["name"]: t["score"] for t in tests}}
        rows.append(row)
    return rows


def write_gradebook(out: Path, challenge: bank.Challenge, outcomes: list[Outcome]) -> None:
    rows = gradebook_rows(outcomes)
    reports.write_atomically(out / GRADEBOOK_JSON, json.dumps(
        {"challenge": challenge.slug, "title": challenge.meta.title, "points": challenge.meta.points,
         "students": rows}, indent=2))
    test_names = list(dict.fromkeys(name for row in rows for name in row["tests"]))
    columns = [c for c in rows[0] if c != "tests"] if rows else []
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns + test_names)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns]
                        + [row["tests"].get(name, "") for name in test_names])
    reports.write_atomically(out / GRADEBOOK_CSV, buffer.getvalue())
