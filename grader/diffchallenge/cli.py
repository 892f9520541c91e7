"""The diffchallenge command line.

Exit codes: 0 graded (whatever the score), 2 bad usage or input, 3 infrastructure error. Commands that only
read the bank (``list``, ``show``, ``start``) import neither torch nor the grading machinery: each handler
imports what it needs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from diffchallenge.bank import challenges as bank
from diffchallenge.bank import mutation_record
from diffchallenge.exits import EPILOG, EXIT_FAILED, EXIT_INFRA, EXIT_OK, EXIT_USAGE, UsageError
from diffchallenge.nbgrader.commands import add_nbgrader_commands
from diffchallenge.reports import html
from diffchallenge.reports.results import DEFAULT_FORMATS, FORMATS
from diffchallenge.runners.choice import add_runner_arguments, docker_settings, runner_for
from diffchallenge.similarity import DEFAULT_THRESHOLD
from pytest_diffchallenge.metadata import DIFFICULTIES, DOMAINS, ChallengeFormatError

console = Console(stderr=True)


def score_line(verdict) -> str:
    counts: dict[str, int] = {}
    for test in verdict.tests:
        counts[test.status] = counts.get(test.status, 0) + 1
    detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"{verdict.score:g}/{verdict.max_score:g} ({detail})"


def print_verdict(verdict) -> None:
    table = Table(title=f"{verdict.challenge}: {verdict.title}", show_lines=False)
    for column in ("test", "visibility", "status", "points", "reason", "message"):
        table.add_column(column, overflow="fold")
    for test in verdict.tests:
        style = {"passed": "green", "failed": "red", "error": "magenta"}[test.status]
        first_line = test.message.splitlines()[0] if test.message else ""
        table.add_row(escape(test.name), test.visibility, f"[{style}]{test.status}[/]",
                      f"{test.score:g}/{test.max_score:g}", test.reason or "", escape(first_line[:120]))
    console.print(table)
    for error in verdict.errors:
        console.print(f"[magenta]grader error:[/] {escape(error)}")
    console.print(f"[bold]score: {score_line(verdict)}[/]")


# -- candidates ----------------------------------------------------------------------------------------------
def command_list(args) -> int:
    challenges = [c for c in bank.all_challenges() if not args.domain or c.meta.domain == args.domain]
    columns = ("slug", "title", "domain", "difficulty", "points", "GPU variant", "mutation score")
    rows = [(c.slug, c.meta.title, c.meta.domain, c.meta.difficulty, str(c.meta.points),
             "yes" if c.meta.gpu_variant else "no", mutation_record.catalog_score(c)) for c in challenges]
    if not sys.stdout.isatty():  # piped: one plain tab-separated row per challenge, never wrapped
        print("\t".join(columns))
        for row in rows:
            print("\t".join(row))
        return EXIT_OK
    table = Table(title="diffchallenge challenges")
    for column in columns:
        table.add_column(column, no_wrap=column == "slug")
    for row in rows:
        table.add_row(*map(escape, row))
    Console().print(table)
    return EXIT_OK


def command_show(args) -> int:
    from rich.markdown import Markdown

    challenge = bank.get_challenge(args.slug)
    meta = challenge.meta
    out = Console()
    out.print(f"[bold]{meta.slug}[/]: {meta.title}  ({meta.domain}, {meta.difficulty}, {meta.points} points)")
    out.print(Markdown(challenge.statement.read_text(encoding="utf-8")))
    out.print(f"\nStart a workspace: diffchallenge start {meta.slug}")
    return EXIT_OK


def command_start(args) -> int:
    from diffchallenge import workspace

    challenge = bank.get_challenge(args.slug)
    folder = Path(args.dir or args.slug)
    written = workspace.start(challenge, folder)
    console.print(f"workspace for [bold]{challenge.slug}[/] in {folder}: " + ", ".join(p.name for p in written))
    console.print(f"edit {', '.join(challenge.meta.edit)}, then run the public tests:\n"
                  f"  cd {folder} && {workspace.RUN_LINE}     (or ./{workspace.RUN_SCRIPT})")
    return EXIT_OK


def command_test(args) -> int:
    from rich.markdown import Markdown

    from diffchallenge import workspace
    from diffchallenge.submissions import check_sources_decode
    from pytest_diffchallenge.verdict import Status

    folder = Path(args.dir)
    if not (folder / "solution.py").is_file():
        raise UsageError(f"{folder} holds no solution.py")
    check_sources_decode(folder, shown_as=folder)  # as grading does: a clear message for a non-UTF-8 source
    console.print(f"running the public tests in {folder} ...")
    verdict, feedback = workspace.run_public_tests(folder, device=args.device)
    Console().print(Markdown(feedback))
    meta = workspace.load_workspace(folder).meta
    console.print(f"[bold]points so far: {verdict.score:g} of the public tests' {verdict.max_score:g}[/] "
                  f"(the challenge is worth {meta.points}; hidden tests grade the rest)")
    if verdict.status == "error":
        return EXIT_INFRA
    return EXIT_OK if all(t.status is Status.PASSED for t in verdict.tests) else EXIT_FAILED


# -- interviewers and instructors --------------------------------------------------------------------------------
def command_grade(args) -> int:
    from diffchallenge import batch, diagnosis
    from diffchallenge.grading import GradeOptions, LocalRunner
    from diffchallenge.reports.results import REPORT_FILES, remove_reports, write_reports
    from diffchallenge.submissions import open_submission

    out = Path(args.out)
    if not args.force and (held := [name for name in REPORT_FILES if (out / name).exists()]):
        raise UsageError(f"{out} already holds results ({', '.join(held)}); pass --force to overwrite them")
    formats = tuple(args.formats or DEFAULT_FORMATS)
    if "html" in formats:
        html.require_extra()  # before grading, not after
    elif args.audience:
        raise UsageError("--audience goes with --format html")
    if args.challenge:
        bank.get_challenge(args.challenge)  # an unknown slug is reported before the submission is read
    runner = runner_for(args)
    with tempfile.TemporaryDirectory(prefix="diffchallenge-submission-") as scratch:
        submission = open_submission(Path(args.submission), Path(scratch) / "submission")
        slug = args.challenge or submission.challenge_slug
        if slug is None:
            raise UsageError(f"{args.submission} names no challenge (no challenge.toml): pass --challenge SLUG")
        challenge = bank.get_challenge(slug)  # always the bank's copy: a workspace's tests are not trusted
        remove_reports(out)
        options = GradeOptions(device=args.device, public_only=args.public_only, sandbox=sandbox_mode(args),
                               artifacts="html" in formats)
        verdict = runner.grade(challenge, submission.folder, out, options)
        if not args.no_diagnosis and isinstance(runner, LocalRunner) \
                and diagnosis.worth_diagnosing(challenge, verdict):
            # The mutants' gradings fork from a warm server: several times faster than fresh interpreters.
            diagnosis_runner = batch.forkserver_runner()
            try:
                with diagnosis.Diagnoser(options) as diagnoser:
                    verdict = diagnoser.diagnose(challenge, submission.folder, verdict, diagnosis_runner)
            finally:
                diagnosis_runner.stop_all()
    verdict = verdict.with_(submission=str(args.submission))
    written = write_reports(verdict, out, challenge.meta.limits, formats, audience=args.audience or html.INTERVIEWER)
    print_verdict(verdict)
    console.print(f"results in {out}: {', '.join(path.name for path in written)}")
    return EXIT_INFRA if verdict.status == "error" else EXIT_OK


def command_grade_batch(args) -> int:
    from diffchallenge import batch
    from diffchallenge.reports import gradebook, overview

    challenge = bank.get_challenge(args.challenge)
    formats = tuple(args.formats or DEFAULT_FORMATS)
    if args.similarity_threshold is not None and batch.HTML not in formats:
        raise UsageError("--similarity-threshold goes with --format html (the class page)")
    threshold = DEFAULT_THRESHOLD if args.similarity_threshold is None else args.similarity_threshold
    if args.backend == "ray":
        from diffchallenge import raybackend

        if args.jobs is not None:
            raise UsageError("--jobs sizes the local pool; on Ray each node runs as many gradings as its CPUs, "
                             "GPUs and memory hold (--threads CPUs each)")
        threads = 1 if args.threads is None else args.threads
        outcomes = raybackend.grade_batch(challenge, Path(args.submissions), Path(args.out), address=args.address,
                                          threads=threads, force=args.force, device=args.device, console=console,
                                          sandbox=sandbox_mode(args), docker=docker_settings(args), formats=formats,
                                          similarity_threshold=threshold)
    else:
        if args.address is not None or args.threads is not None:
            raise UsageError("--address and --threads go with --backend ray")
        runner = runner_for(args) if args.runner == "docker" else None  # else: the batch's warm fork server
        jobs = 1 if args.jobs is None else args.jobs
        outcomes = batch.grade_batch(challenge, Path(args.submissions), Path(args.out), jobs=jobs, force=args.force,
                                     device=args.device, console=console, runner=runner, sandbox=sandbox_mode(args),
                                     formats=formats, similarity_threshold=threshold,
                                     diagnose=not args.no_diagnosis)
    counts = {status: sum(o.status == status for o in outcomes) for status in ("graded", "refused", "error")}
    scores = [o.verdict.score for o in outcomes if o.status == "graded" and o.verdict is not None]
    mean = f", mean score {sum(scores) / len(scores):.1f}/{challenge.meta.points}" if scores else ""
    console.print(f"[bold]{counts['graded']} graded, {counts['refused']} refused, {counts['error']} "
                  f"infrastructure errors{mean}[/]")
    console.print(f"gradebook: {Path(args.out) / gradebook.CSV_FILE}, {Path(args.out) / gradebook.JSON_FILE}")
    if batch.HTML in formats:
        console.print(f"class page: {Path(args.out) / overview.FILE}")
    if counts["error"]:
        console.print("[magenta]students with infrastructure errors have no score; run the same command again "
                      "to grade them (graded students are skipped)[/]")
        return EXIT_INFRA
    return EXIT_OK


def command_scoreboard(args) -> int:
    from diffchallenge.bank.mutants import reference_dir
    from diffchallenge.grading import GradeOptions, grade

    table = Table(title="reference solutions")
    for column in ("challenge", "domain", "score", "tests", "seconds"):
        table.add_column(column)
    worst = EXIT_OK
    with tempfile.TemporaryDirectory(prefix="diffchallenge-scoreboard-") as workdir:
        for challenge in bank.all_challenges():
            console.print(f"grading the reference of {challenge.slug} ...")
            verdict = grade(challenge, reference_dir(challenge), Path(workdir) / challenge.slug,
                            GradeOptions(device=args.device))
            if verdict.status == "error":
                worst = EXIT_INFRA
            score, tests = score_line(verdict).split(" ", 1)
            console.print(f"  {score} {tests} in {verdict.duration_s:.1f} s")
            table.add_row(challenge.slug, challenge.meta.domain, score, tests, f"{verdict.duration_s:.1f}")
    Console().print(table)
    return worst


# -- challenge authors ---------------------------------------------------------------------------------------------
def command_new(args) -> int:
    from diffchallenge.bank import scaffold

    try:
        written = scaffold.create(args.slug, args.title or args.slug.replace("-", " ").capitalize(), args.domain,
                                  args.difficulty)
    except ValueError as error:
        raise UsageError(str(error)) from None
    root = bank.bank_root()
    console.print("created:\n" + "\n".join(f"  {path.relative_to(root)}" for path in written))
    console.print(f"replace the TODOs and the example task, then run: diffchallenge verify {args.slug}")
    return EXIT_OK


def command_verify(args) -> int:
    if args.record and not args.mutate:
        raise UsageError("--record records a mutation analysis: pass --mutate too")
    if args.mutate:
        return command_mutate(args)
    from diffchallenge.bank import verify
    from diffchallenge.batch import forkserver_runner, usable_cores

    challenges = [bank.get_challenge(s) for s in args.slugs] if args.slugs else bank.all_challenges()
    jobs = args.jobs or usable_cores()
    table = Table(title="diffchallenge verify")
    for column in ("challenge", "kind", "name", "score", "expected", "ok", "seconds"):
        table.add_column(column)
    totals = Table(title="per challenge")
    for column in ("challenge", "reference grading s", "mutants caught", "ok"):
        totals.add_column(column)
    runner = forkserver_runner()
    failures = 0
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="diffchallenge-verify-") as workdir:
        for challenge in challenges:
            console.print(f"verifying {challenge.slug} ...")
            rows = verify.verify_challenge(challenge, Path(workdir) / challenge.slug, runner, jobs=jobs,
                                           threads=max(1, usable_cores() // jobs), device=args.device)
            for row in rows:
                failures += not row.ok
                score = f"{row.score:g}/{row.max_score:g}" if row.kind != verify.CHECK else ""
                table.add_row(row.challenge, row.kind, row.name, score,
                              row.expected, "[green]yes[/]" if row.ok else "[red]NO[/]", f"{row.seconds:.1f}")
                problems.extend(f"{row.challenge} {row.kind} {row.name}: {error}" for error in row.errors
                                if not row.ok)
            total = verify.summary(rows)
            totals.add_row(total.challenge, f"{total.reference_seconds:.1f}",
                           f"{total.mutants_caught}/{total.mutants}", "[green]yes[/]" if total.all_ok else "[red]NO[/]")
    Console().print(table)
    Console().print(totals)
    for problem in problems:  # one line each, unwrapped, so that they can be grepped
        print(problem)
    return EXIT_FAILED if failures else EXIT_OK


@contextmanager
def mutation_progress(slug: str, total: int) -> Iterator[Callable]:
    """A progress bar on a terminal, else one plain line per graded mutant."""
    from rich import progress as bars

    if sys.stdout.isatty():
        columns = (bars.TextColumn("{task.description}"), bars.BarColumn(), bars.MofNCompleteColumn(),
                   bars.TimeElapsedColumn(), bars.TextColumn("ETA"), bars.TimeRemainingColumn())
        with bars.Progress(*columns, console=Console()) as progress:
            task = progress.add_task(f"mutants of {slug}", total=total)
            yield lambda graded: progress.advance(task)
        return
    done = itertools.count(1)
    lock = threading.Lock()

    def line(graded) -> None:
        with lock:
            print(f"{slug} {next(done)}/{total} {graded.mutant.id}: {graded.outcome} ({graded.seconds:.1f} s)",
                  flush=True)

    yield line


def print_rows(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A table on a terminal; piped, a title line and one plain tab-separated row per line, never wrapped."""
    if not sys.stdout.isatty():
        print(f"# {title}\n" + "\n".join("\t".join(row) for row in [columns, *rows]))
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*map(escape, row))
    Console().print(table)


def command_mutate(args) -> int:
    from diffchallenge.bank import mutation
    from diffchallenge.batch import forkserver_runner, usable_cores

    challenges = [bank.get_challenge(s) for s in args.slugs] if args.slugs else bank.all_challenges()
    jobs = args.jobs or usable_cores()
    totals: list[tuple[str, ...]] = []
    survivors: list[tuple[str, ...]] = []
    problems: list[str] = []
    runner = forkserver_runner()
    try:
        with tempfile.TemporaryDirectory(prefix="diffchallenge-mutate-") as workdir:
            for challenge in challenges:
                started = time.monotonic()
                mutants = mutation.reference_mutants(challenge)
                console.print(f"grading {len(mutants)} mutants of {challenge.slug} ...")
                with mutation_progress(challenge.slug, len(mutants)) as on_graded:
                    graded = mutation.grade_mutants(challenge, mutants, Path(workdir) / challenge.slug, runner,
                                                    jobs=jobs, threads=max(1, usable_cores() // jobs),
                                                    device=args.device, on_graded=on_graded)
                record = mutation.make_record(challenge, graded, mutation_record.previous_record(challenge))
                path = mutation_record.record_file(challenge)
                if args.record:
                    mutation_record.write_record(path, record)
                    console.print(f"recorded in {path}")
                totals.append((challenge.slug, str(record.mutants), str(record.killed), str(record.survived),
                               str(len(record.explained)), str(record.errors), f"{record.score:.1%}",
                               f"{time.monotonic() - started:.0f}"))
                survivors += [(challenge.slug, entry.id, entry.description, entry.reason.strip() or "NO REASON")
                              for entry in record.equivalent]
                if unexplained := record.survived - len(record.explained):
                    hint = "" if args.record else " (--record writes it)"
                    problems.append(f"{challenge.slug}: {unexplained} survivors with no reason to be equivalent: add "
                                    f"tests that kill them, or give each a reason in {path}{hint}")
                problems += [f"{challenge.slug} {g.mutant.id}: {g.message}" for g in graded if g.outcome == "error"]
    finally:
        runner.stop_all()
    if survivors:
        print_rows("survivors: equivalent (with a reason), or a weakness of the tests",
                   ("challenge", "id", "description", "equivalent because"), survivors)
    print_rows("mutation analysis", ("challenge", "mutants", "killed", "survivors", "equivalent", "errors", "score",
                                     "seconds"), totals)
    for problem in problems:
        console.print(problem, markup=False, highlight=False)
    return EXIT_FAILED if problems else EXIT_OK


def command_image_build(args) -> int:
    from diffchallenge.grading import GradingError
    from diffchallenge.runners.docker import docker_client
    from diffchallenge.runners.image import TAGS, ImageError, build_image, expected_labels

    tag = args.tag or TAGS[args.variant] + ("-public" if args.public else "")
    try:
        image_id = build_image(docker_client(), gpu=args.variant == "gpu", base=args.base, tag=tag,
                               public_only=args.public, log=lambda line: print(line, file=sys.stderr))
    except ImageError as error:
        raise GradingError(str(error)) from None
    print(json.dumps({"tag": tag, "id": image_id, "labels": expected_labels(args.public)}, indent=2))
    return EXIT_OK


# -- the parser ---------------------------------------------------------------------------------------------------
def add_command(commands, name: str, handler, help: str) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=help, description=help, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.set_defaults(handler=handler)
    return sub


def register_candidate_commands(commands) -> None:
    sub = add_command(commands, "list", command_list, "the challenges, with domain, difficulty and points")
    sub.add_argument("--domain", choices=sorted(DOMAINS))

    sub = add_command(commands, "show", command_show, "print a challenge's statement")
    sub.add_argument("slug", metavar="SLUG")

    sub = add_command(commands, "start", command_start,
                      "make a workspace: statement, starter, probes and public tests (nothing from solutions/)")
    sub.add_argument("slug", metavar="SLUG")
    sub.add_argument("dir", nargs="?", metavar="DIR", help="the workspace folder (default: ./SLUG)")

    sub = add_command(commands, "test", command_test, "run a workspace's public tests on its solution.py")
    sub.add_argument("dir", nargs="?", default=".", metavar="DIR", help="the workspace (default: the current folder)")
    sub.add_argument("--device", default="cpu")


def sandbox_mode(args) -> str:
    from pytest_diffchallenge.sandboxing import SANDBOX_OFF, SANDBOX_REQUIRED

    return SANDBOX_OFF if args.no_sandbox else SANDBOX_REQUIRED


def add_sandbox_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-sandbox", action="store_true",
                        help="UNSAFE: run the worker without its kernel sandbox (Landlock and seccomp), on a machine "
                             "that lacks them; results.json says so. Without it, grading refuses such a machine")


def share(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 1")
    return value


def register_grading_commands(commands) -> None:
    sub = add_command(commands, "grade", command_grade,
                      "grade one submission with the public and hidden tests; write results.json and the reports")
    sub.add_argument("submission", metavar="SUBMISSION", help="a folder holding solution.py, a .py file or a .zip")
    sub.add_argument("--challenge", metavar="SLUG", help="default: the slug in the submission's challenge.toml")
    sub.add_argument("--out", default="diffchallenge-results", metavar="DIR",
                     help="folder for results.json, the reports and the grader log (default: %(default)s)")
    sub.add_argument("--format", dest="formats", action="append", choices=list(FORMATS),
                     help="reports to write beside results.json (repeatable; default: "
                          f"{', '.join(DEFAULT_FORMATS)}); html: report.html, one self-contained page with images "
                          f"of the outputs and memory and runtime charts (needs {html.EXTRA})")
    sub.add_argument("--audience", choices=html.AUDIENCES,
                     help="with --format html: interviewer (default) shows every test, hidden ones included; "
                          "candidate shows the public tests and only the hidden tests' points")
    sub.add_argument("--device", default="cpu")
    sub.add_argument("--public-only", action="store_true", help="grade with the public tests alone")
    sub.add_argument("--force", action="store_true", help="overwrite results already in --out")
    sub.add_argument("--no-diagnosis", action="store_true",
                     help="do not grade the challenge's known mistakes (its mutants) on the tests that failed on "
                          "their output to name the one each matches (local runner only)")
    add_sandbox_argument(sub)
    add_runner_arguments(sub)

    sub = add_command(commands, "grade-batch", command_grade_batch,
                      "grade one submission per student (subfolders, .zip or .py files) into a gradebook")
    sub.add_argument("submissions", metavar="SUBMISSIONS", help="folder with one submission per student")
    sub.add_argument("--challenge", required=True, metavar="SLUG")
    sub.add_argument("--out", required=True, metavar="DIR", help="one result folder per student, plus the gradebook")
    sub.add_argument("--jobs", type=int, metavar="N",
                     help="local backend: gradings at once; each gets cores/N threads (default: 1)")
    sub.add_argument("--force", action="store_true", help="grade again students already graded in --out")
    sub.add_argument("--device", default="cpu")
    sub.add_argument("--format", dest="formats", action="append", choices=list(FORMATS),
                     help="reports to write in each student's folder (repeatable; default: "
                          f"{', '.join(DEFAULT_FORMATS)}); html: each student's report.html and the class page "
                          f"DIR/index.html (scores, tests, students, code similarity; needs {html.EXTRA}). On Ray, "
                          "report.html shows the verdict alone: a grading's artifacts (images of outputs, charts) "
                          "stay on its node")
    sub.add_argument("--similarity-threshold", type=share, metavar="X",
                     help="with --format html: list the pairs of solutions where more than this share (0 to 1) of "
                          "either one's code, the starter's removed and names ignored, is also in the other's "
                          f"(default: {DEFAULT_THRESHOLD})")
    sub.add_argument("--no-diagnosis", action="store_true",
                     help="do not grade the challenge's known mistakes (its mutants, each once for the batch) on the "
                          "tests that failed on their output to name the one each matches (local backend only)")
    add_sandbox_argument(sub)
    add_runner_arguments(sub)
    group = sub.add_argument_group("backend", "where the gradings run (README: Grading on a Ray cluster)")
    group.add_argument("--backend", choices=("local", "ray"), default="local",
                       help="local: a pool on this machine; ray: one Ray task per student on a Ray cluster")
    group.add_argument("--address", metavar="ADDR",
                       help="ray: the cluster's head, HOST:PORT (default: start Ray on this machine for this batch)")
    group.add_argument("--threads", type=int, metavar="N",
                       help="ray: CPU threads per grading, the CPUs each task asks for (default: 1)")

    sub = add_command(commands, "scoreboard", command_scoreboard,
                      "grade every reference solution and print a scoreboard")
    sub.add_argument("--device", default="cpu")


def register_author_commands(commands) -> None:
    sub = add_command(commands, "new", command_new,
                      "scaffold a challenge (statement, metadata, starter, probes, tests, reference, mutants)")
    sub.add_argument("slug", metavar="SLUG")
    sub.add_argument("--title")
    sub.add_argument("--domain", choices=sorted(DOMAINS), default="architecture")
    sub.add_argument("--difficulty", choices=DIFFICULTIES, default="medium")

    sub = add_command(commands, "verify", command_verify,
                      "self-check: reference full marks, starter zero, every mutant loses")
    sub.add_argument("slugs", nargs="*", metavar="SLUG")
    sub.add_argument("--device", default="cpu")
    sub.add_argument("--jobs", type=int, default=0,
                     help="gradings at once, each with cores / jobs threads (default: one per core)")
    sub.add_argument("--mutate", action="store_true",
                     help="instead: mutation analysis of the reference (cosmic-ray's operators and more); grade every "
                          "machine mutant and list the survivors; fails while a survivor has no recorded reason to be "
                          "equivalent in solutions/SLUG/mutation.toml")
    sub.add_argument("--record", action="store_true",
                     help="with --mutate: write solutions/SLUG/mutation.toml, keeping the reasons of survivors that "
                          "still survive and listing new survivors with an empty reason for the author to fill in")


def register_image_command(commands) -> None:
    image = commands.add_parser("image", help="build the Docker grading image (docker/README.md)")
    actions = image.add_subparsers(dest="image_action", required=True, metavar="ACTION")
    sub = actions.add_parser("build", help="build the grading image (CPU: fully offline from a debootstrap base)")
    variant = sub.add_mutually_exclusive_group()
    variant.add_argument("--gpu", dest="variant", action="store_const", const="gpu",
                         help="CUDA PyTorch base (the Dockerfile's default unless --base); "
                              "dependencies from the index")
    variant.add_argument("--cpu", dest="variant", action="store_const", const="cpu",
                         help="offline CPU image on the debootstrap base (docker/build-base.sh), "
                              "wheels from this machine")
    sub.add_argument("--base", metavar="IMAGE", help="base image to build on")
    sub.add_argument("--tag", help="image tag (default diffchallenge:cpu or diffchallenge:gpu)")
    sub.add_argument("--public", action="store_true",
                     help="a candidate's image: nothing from solutions/ (no hidden tests, no reference); "
                          "it cannot grade")
    sub.set_defaults(handler=command_image_build, variant="cpu")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffchallenge", description=(__doc__ or "").splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_candidate_commands(commands)
    register_grading_commands(commands)
    register_author_commands(commands)
    add_nbgrader_commands(commands)
    register_image_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from diffchallenge.batch import BatchError
    from diffchallenge.grading import GradingError
    from diffchallenge.submissions import SubmissionRefused
    from diffchallenge.workspace import WorkspaceError

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, SubmissionRefused, WorkspaceError, BatchError, bank.UnknownChallenge,
            ChallengeFormatError) as error:
        console.print(f"[red]error:[/] {escape(str(error))}")  # a path or extra name in brackets is text
        return EXIT_USAGE
    except GradingError as error:
        console.print(f"[magenta]infrastructure error:[/] {error}")
        return EXIT_INFRA
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return 130
    except Exception:  # a crash of the grader itself: an infrastructure error, never a score
        console.print_exception(max_frames=5)
        console.print("[magenta]infrastructure error: the grader crashed; no verdict was produced[/]")
        return EXIT_INFRA


if __name__ == "__main__":
    sys.exit(main())
