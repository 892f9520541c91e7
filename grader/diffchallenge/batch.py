"""Batch grading: one submission per student, one result folder per student, and a gradebook.

Each student is graded by the one grading path (``grading.grade``) through a runner: by default local
sessions forked from a warm fork server, with workers forked from a warm worker template (both in
``runners.forkserver``, stopped with the batch), or Docker containers. ``--jobs N`` runs N gradings at once
with cores / N threads each (oversubscribed threads make tiny-model forwards many times slower). On a Ray
cluster, ``raybackend`` grades each student with the same ``grade_submission``, one Ray task per student.

The gradebook is rewritten as each student's outcome comes in, in student order: it is complete when the batch is.
With the html format, the batch keeps each grading's artifacts for its report.html and ends with the class page
(``reports.overview``: scores, tests, students and code similarity), written also when every student was resumed.

Resuming: a student whose folder holds a results.json with status "graded" and every requested report is skipped
unless ``force``.
Refused submissions and infrastructure errors are recorded as such (never as a zero) and tried again
on the next run.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from diffchallenge import similarity
from diffchallenge.diagnosis import Diagnoser
from diffchallenge.grading import GRADER_ENVIRONMENT, GradeOptions, LocalRunner, Runner
from diffchallenge.reports import gradebook, overview
from diffchallenge.reports.gradebook import Outcome
from diffchallenge.reports.results import DEFAULT_FORMATS, FORMATS, remove_reports, write_reports
from diffchallenge.submissions import SubmissionRefused, open_submission
from pytest_diffchallenge.metadata import Challenge
from pytest_diffchallenge.sandboxing import SANDBOX_REQUIRED
from pytest_diffchallenge.verdict import RESULTS_FILE, Verdict, VerdictError, read_results, write_atomically

OUTCOME_FILE = "outcome.json"  # why a student has no verdict: refused or an infrastructure error
HTML = "html"  # the format that also makes the class page


class BatchError(ValueError):
    """Bad usage of grade-batch: exit code 2."""


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def forkserver_runner(preload: Sequence[str] = ()) -> LocalRunner:
    from diffchallenge.runners.forkserver import ForkServer

    # Read at import time by the fork server's modules (tqdm, transformers' logging).
    os.environ.update(GRADER_ENVIRONMENT)
    return LocalRunner(ForkServer(preload))


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


# -- one student ----------------------------------------------------------------------------------------------
def previous_verdict(folder: Path, formats: Sequence[str]) -> Verdict | None:
    """The verdict of an earlier run, if it graded the student and wrote every report asked for (else: grade
    again)."""
    if not all((folder / name).is_file() for name in (RESULTS_FILE, *(FORMATS[f] for f in formats))):
        return None
    try:
        verdict = read_results(folder / RESULTS_FILE)
    except VerdictError:
        return None
    return verdict if verdict.status == "graded" else None


def grade_student(runner: Runner, challenge: Challenge, student: str, source: Path, out: Path,
                  options: GradeOptions, force: bool, formats: Sequence[str] = DEFAULT_FORMATS,
                  diagnoser: Diagnoser | None = None) -> Outcome:
    """Grade one student into ``out/student`` (or skip one already graded): the local pool's unit of work."""
    folder = out / student
    if not force and (resumed := resumed_outcome(student, folder, formats)) is not None:
        return resumed
    clear_folder(folder)
    return record_outcome(grade_submission(runner, challenge, student, source, folder, options, diagnoser), folder,
                          challenge, formats)


def resumed_outcome(student: str, folder: Path, formats: Sequence[str]) -> Outcome | None:
    verdict = previous_verdict(folder, formats)
    if verdict is None:
        return None
    return Outcome(student, "graded", verdict=verdict, seconds=verdict.duration_s, resumed=True)


def clear_folder(folder: Path) -> None:
    """Remove an earlier run's reports, so that a failed regrade cannot leave stale ones behind."""
    folder.mkdir(parents=True, exist_ok=True)
    remove_reports(folder)
    (folder / OUTCOME_FILE).unlink(missing_ok=True)


def grade_submission(runner: Runner, challenge: Challenge, student: str, source: Path, folder: Path,
                     options: GradeOptions, diagnoser: Diagnoser | None = None) -> Outcome:
    """Grade one submission (and diagnose its failed tests, given a ``diagnoser``); the grader log goes to
    ``folder``. Writes no report: ``record_outcome`` does.

    Whatever goes wrong is an outcome (refused, or an infrastructure error for this student only), never a zero.
    """
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="diffchallenge-batch-") as scratch:
            submission = open_submission(source, Path(scratch) / "submission")
            verdict = runner.grade(challenge, submission.folder, folder, options)
            if diagnoser is not None:
                verdict = diagnoser.diagnose(challenge, submission.folder, verdict, runner)
        verdict = verdict.with_(submission=str(source))
        outcome = Outcome(student, verdict.status, message="; ".join(verdict.errors), verdict=verdict)
        if outcome.status == "error" and not outcome.message:
            outcome.message = "a test could not be run by the grader; see results.json"
    except SubmissionRefused as refusal:
        outcome = Outcome(student, "refused", message=str(refusal))
    except Exception as error:  # an infrastructure fault for this student only: recorded, never a zero
        outcome = Outcome(student, "error", message=f"{type(error).__name__}: {error}")
    outcome.seconds = round(time.monotonic() - started, 2)
    return outcome


def record_outcome(outcome: Outcome, folder: Path, challenge: Challenge,
                   formats: Sequence[str] = DEFAULT_FORMATS) -> Outcome:
    """Write the student's files: the verdict's reports, or why there is no verdict. A report that cannot be
    written (a full disk) makes this student an infrastructure error, graded again next run; the batch goes on."""
    try:
        if outcome.verdict is not None:
            write_reports(outcome.verdict, folder, challenge.meta.limits, formats)
    except OSError as error:
        remove_reports(folder)
        outcome = Outcome(outcome.student, "error", message=f"the reports could not be written: {error}",
                          seconds=outcome.seconds)
    if outcome.status != "graded":
        write_atomically(folder / OUTCOME_FILE, json.dumps(
            {"student": outcome.student, "status": outcome.status, "message": outcome.message}, indent=2))
    return outcome


# -- the batch --------------------------------------------------------------------------------------------------
def check_out_folder(out: Path, challenge: Challenge, force: bool) -> None:
    try:
        earlier = json.loads((out / gradebook.JSON_FILE).read_text()).get("challenge")
    except (OSError, ValueError, AttributeError):
        return
    if earlier != challenge.slug and not force:
        raise BatchError(f"{out} holds a gradebook for {earlier!r}, not {challenge.slug!r}; "
                         f"choose another --out or pass --force")


def prepare_batch(challenge: Challenge, submissions: Path, out: Path, force: bool,
                  formats: Sequence[str]) -> dict[str, Path]:
    """The students to grade, once ``out`` is known to be fit for this challenge's gradebook and the reports
    asked for can be written."""
    if HTML in formats:
        overview.require_extra()
    students = find_submissions(submissions)
    check_out_folder(out, challenge, force)
    out.mkdir(parents=True, exist_ok=True)
    return students


def collect_outcomes(challenge: Challenge, students: dict[str, Path], out: Path, console: Console,
                     finished: Iterable[Outcome]) -> list[Outcome]:
    """Show each outcome as it comes and keep the gradebook up to date; return the outcomes in student order."""
    outcomes: dict[str, Outcome] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"grading {challenge.slug}", total=len(students))
        for outcome in finished:
            outcomes[outcome.student] = outcome
            progress.console.print(outcome_line(outcome))
            progress.advance(task)
            gradebook.write(out, challenge, [outcomes[name] for name in students if name in outcomes])
    return [outcomes[name] for name in students]


def grade_batch(challenge: Challenge, submissions: Path, out: Path, *, jobs: int = 1, force: bool = False,
                device: str = "cpu", console: Console | None = None, runner: Runner | None = None,
                sandbox: str = SANDBOX_REQUIRED, formats: Sequence[str] = DEFAULT_FORMATS,
                similarity_threshold: float = similarity.DEFAULT_THRESHOLD, diagnose: bool = True) -> list[Outcome]:
    """Grade every submission in ``submissions`` into ``out``; write the reports in ``formats``, the gradebook
    and, with the html format, the class page; return the outcomes. With ``diagnose``, failed tests are
    compared with the kept mutants' outputs (``diagnosis``: each mutant is graded once for the whole batch)."""
    if jobs < 1:
        raise BatchError("--jobs must be at least 1")
    students = prepare_batch(challenge, submissions, out, force, formats)
    options = GradeOptions(device=device, threads=max(1, usable_cores() // jobs), sandbox=sandbox,
                           artifacts=HTML in formats)
    own_runner = runner is None
    runner = runner or forkserver_runner()
    with Diagnoser(options) if diagnose else nullcontext() as diagnoser, ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(grade_student, runner, challenge, name, source, out, options, force, formats,
                               diagnoser) for name, source in students.items()]
        try:
            outcomes = collect_outcomes(challenge, students, out, console or Console(stderr=True),
                                        (future.result() for future in as_completed(futures)))
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            runner.stop_all()
            raise
    if own_runner:
        runner.stop_all()  # nothing is left running: its worker template goes with the batch
    if HTML in formats:
        write_class_page(challenge, students, out, outcomes, similarity_threshold)
    return outcomes


def write_class_page(challenge: Challenge, students: dict[str, Path], out: Path, outcomes: list[Outcome],
                     similarity_threshold: float) -> Path:
    """index.html: the class's scores and tests, and the similar pairs among the submissions not refused."""
    compared = {outcome.student: students[outcome.student] for outcome in outcomes if outcome.status != "refused"}
    similar = similarity.compare_submissions(compared, challenge.starter, similarity_threshold)
    return overview.write(out, challenge, outcomes, similar)


def outcome_line(outcome: Outcome) -> str:
    if outcome.status == "graded" and outcome.verdict is not None:
        verdict = outcome.verdict
        note = " (already graded: skipped)" if outcome.resumed else f" in {outcome.seconds:.0f} s"
        return f"[green]{outcome.student}[/]: {verdict.score:g}/{verdict.max_score:g}{note}"
    style = "red" if outcome.status == "refused" else "magenta"
    first_line = outcome.message.splitlines()[0] if outcome.message else ""
    return f"[{style}]{outcome.student}: {outcome.status}[/]: {first_line}"
