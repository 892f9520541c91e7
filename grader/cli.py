"""The diffchallenge command line.

Exit codes: 0 graded (whatever the score), 2 bad usage or input, 3 infrastructure error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.markdown import Markdown
from rich.table import Table

from diffchallenge import bank, batch, reports, scaffold, verify, workspace
from diffchallenge.classroom import add_nbgrader_commands
from diffchallenge.docker_image import add_image_command
from diffchallenge.docker_runner import add_runner_arguments, grader_for, runner_for
from diffchallenge.grading import GradeOptions, GradingError, grade
from diffchallenge.submissions import SubmissionRefused, check_sources_decode, open_submission

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INFRA = 0, 1, 2, 3
EPILOG = """exit codes:
  0  graded (whatever the score)
  1  `test`: some public test did not pass; `verify`: a self-check failed
  2  bad usage or bad input (unknown challenge, no solution.py, unsafe zip, non-UTF-8 source,
     an output folder that already holds results, ...): nothing was graded, nothing is lost
  3  infrastructure error: the grader could not produce a verdict (never reported as a score of 0)
"""

console = Console(stderr=True)


class UsageError(Exception):
    """Bad usage or input: exit code 2."""


def score_line(verdict: dict) -> str:
    counts = {}
    for test in verdict["tests"]:
        counts[test["status"]] = counts.get(test["status"], 0) + 1
    detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"{verdict['score']:g}/{verdict['max_score']:g} ({detail})"


def print_verdict(verdict: dict) -> None:
    table = Table(title=f"{verdict['challenge']}: {verdict['title']}", show_lines=False)
    for column in ("test", "visibility", "status", "points", "message"):
        table.add_column(column, overflow="fold")
    for test in verdict["tests"]:
        style = {"passed": "green", "failed": "red", "error": "magenta"}.get(test["status"], "yellow")
        first_line = test["message"].splitlines()[0] if test["message"] else ""
        table.add_row(escape(test["name"]), test["visibility"], f"[{style}]{test['status']}[/]",
                      f"{test['score']:g}/{test['max_score']:g}", escape(first_line[:120]))
    console.print(table)
    for error in verdict.get("errors", []):
        console.print(f"[magenta]grader error:[/] {escape(error)}")
    console.print(f"[bold]score: {score_line(verdict)}[/]")


def parsed_options(args) -> GradeOptions:
    return GradeOptions(device=args.device, public_only=getattr(args, "public_only", False))


# -- candidates ----------------------------------------------------------------------------------------------
def command_list(args) -> int:
    table = Table(title="diffchallenge challenges")
    for column in ("slug", "title", "domain", "difficulty", "points", "GPU variant"):
        table.add_column(column, no_wrap=column == "slug")
    for challenge in bank.all_challenges():
        meta = challenge.meta
        if args.domain and meta.domain != args.domain:
            continue
        table.add_row(meta.slug, meta.title, meta.domain, meta.difficulty, str(meta.points),
                      "yes" if meta.gpu_variant else "no")
    Console().print(table)
    return EXIT_OK


def command_show(args) -> int:
    challenge = bank.get_challenge(args.slug)
    meta = challenge.meta
    out = Console()
    out.print(f"[bold]{meta.slug}[/]: {meta.title}  ({meta.domain}, {meta.difficulty}, {meta.points} points)")
    out.print(Markdown(challenge.statement.read_text(encoding="utf-8")))
    out.print(f"\nStart a workspace: diffchallenge start {meta.slug}")
    return EXIT_OK


def command_start(args) -> int:
    challenge = bank.get_challenge(args.slug)
    folder = Path(args.dir or args.slug)
    written = workspace.start(challenge, folder)
    console.print(f"workspace for [bold]{challenge.slug}[/] in {folder}: " + ", ".join(p.name for p in written))
    console.print(f"edit {', '.join(challenge.meta.edit)}, then run the public tests:\n"
                  f"  cd {folder} && {workspace.RUN_LINE}     (or ./{workspace.RUN_SCRIPT})")
    return EXIT_OK


def command_test(args) -> int:
    folder = Path(args.dir)
    if not (folder / "solution.py").is_file():
        raise UsageError(f"{folder} holds no solution.py")
    check_sources_decode(folder, shown_as=folder)  # as grading does: a clear message for a non-UTF-8 source
    console.print(f"running the public tests in {folder} ...")
    verdict, feedback = workspace.run_public_tests(folder, device=args.device)
    Console().print(Markdown(feedback))
    meta = bank.load_challenge(folder).meta
    console.print(f"[bold]points so far: {verdict['score']:g} of the public tests' {verdict['max_score']:g}[/] "
                  f"(the challenge is worth {meta.points}; hidden tests grade the rest)")
    if verdict["status"] == "error":
        return EXIT_INFRA
    return EXIT_OK if all(t["status"] == "passed" for t in verdict["tests"]) else EXIT_FAILED


# -- interviewers and instructors --------------------------------------------------------------------------------
def command_grade(args) -> int:
    out = Path(args.out)
    if not args.force and (held := [name for name in reports.REPORT_FILES if (out / name).exists()]):
        raise UsageError(f"{out} already holds results ({', '.join(held)}); pass --force to overwrite them")
    if args.challenge:
        bank.get_challenge(args.challenge)  # an unknown slug is reported before the submission is read
    with tempfile.TemporaryDirectory(prefix="diffchallenge-submission-") as scratch:
        submission = open_submission(Path(args.submission), Path(scratch) / "submission")
        slug = args.challenge or submission.challenge_slug
        if slug is None:
            raise UsageError(f"{args.submission} names no challenge (no challenge.toml): pass --challenge SLUG")
        challenge = bank.get_challenge(slug)  # always the bank's copy: a workspace's tests are not trusted
        reports.remove_reports(out)
        verdict = grader_for(args)(challenge, submission.folder, out, parsed_options(args))
    verdict["submission"] = str(args.submission)
    written = reports.write_reports(verdict, out, challenge.meta.limits, args.formats or tuple(reports.FORMATS))
    print_verdict(verdict)
    console.print(f"results in {out}: {', '.join(path.name for path in written)}")
    return EXIT_INFRA if verdict["status"] == "error" else EXIT_OK


def command_grade_batch(args) -> int:
    challenge = bank.get_challenge(args.challenge)
    outcomes = batch.grade_batch(challenge, Path(args.submissions), Path(args.out), jobs=args.jobs, force=args.force,
                                 device=args.device, console=console, runner=runner_for(args))
    counts = {status: sum(o.status == status for o in outcomes) for status in ("graded", "refused", "error")}
    scores = [o.verdict["score"] for o in outcomes if o.status == "graded"]
    mean = f", mean score {sum(scores) / len(scores):.1f}/{challenge.meta.points}" if scores else ""
    console.print(f"[bold]{counts['graded']} graded, {counts['refused']} refused, {counts['error']} "
                  f"infrastructure errors{mean}[/]")
    console.print(f"gradebook: {Path(args.out) / batch.GRADEBOOK_CSV}, {Path(args.out) / batch.GRADEBOOK_JSON}")
    if counts["error"]:
        console.print("[magenta]students with infrastructure errors have no score; run the same command again "
                      "to grade them (graded students are skipped)[/]")
        return EXIT_INFRA
    return EXIT_OK


def command_scoreboard(args) -> int:
    table = Table(title="reference solutions")
    for column in ("challenge", "domain", "score", "tests", "seconds"):
        table.add_column(column)
    worst = EXIT_OK
    with tempfile.TemporaryDirectory(prefix="diffchallenge-scoreboard-") as workdir:
        for challenge in bank.all_challenges():
            console.print(f"grading the reference of {challenge.slug} ...")
            verdict = grade(challenge, challenge.reference_dir, Path(workdir) / challenge.slug,
                            GradeOptions(device=args.device))
            if verdict["status"] == "error":
                worst = EXIT_INFRA
            score, tests = score_line(verdict).split(" ", 1)
            console.print(f"  {score} {tests} in {verdict['duration_s']:.1f} s")
            table.add_row(challenge.slug, challenge.meta.domain, score, tests, f"{verdict['duration_s']:.1f}")
    Console().print(table)
    return worst


# -- challenge authors ---------------------------------------------------------------------------------------------
def command_new(args) -> int:
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
    challenges = [bank.get_challenge(s) for s in args.slugs] if args.slugs else bank.all_challenges()
    table = Table(title="diffchallenge verify")
    for column in ("challenge", "kind", "name", "score", "expected", "ok", "seconds"):
        table.add_column(column)
    totals = Table(title="per challenge")
    for column in ("challenge", "reference grading s", "mutants caught", "ok"):
        totals.add_column(column)
    sessions = batch.TrustedSessions()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="diffchallenge-verify-") as workdir:
        for challenge in challenges:
            console.print(f"verifying {challenge.slug} ...")
            rows = verify.verify_challenge(challenge, Path(workdir) / challenge.slug, sessions, jobs=args.jobs,
                                           device=args.device)
            for row in rows:
                failures += not row["ok"]
                table.add_row(row["challenge"], row["kind"], row["name"], f"{row['score']:g}/{row['max_score']:g}",
                              row["expected"], "[green]yes[/]" if row["ok"] else "[red]NO[/]", f"{row['seconds']:.1f}")
            total = verify.summary(rows)
            totals.add_row(total["challenge"], f"{total['reference_seconds']:.1f}",
                           f"{total['mutants_caught']}/{total['mutants']}",
                           "[green]yes[/]" if total["all_ok"] else "[red]NO[/]")
    Console().print(table)
    Console().print(totals)
    return EXIT_FAILED if failures else EXIT_OK


# -- the parser ---------------------------------------------------------------------------------------------------
def add_command(commands, name: str, handler, help: str) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=help, description=help, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.set_defaults(handler=handler)
    return sub


def register_candidate_commands(commands) -> None:
    sub = add_command(commands, "list", command_list, "the challenges, with domain, difficulty and points")
    sub.add_argument("--domain", choices=sorted(bank.DOMAINS))

    sub = add_command(commands, "show", command_show, "print a challenge's statement")
    sub.add_argument("slug", metavar="SLUG")

    sub = add_command(commands, "start", command_start,
                      "make a workspace: statement, starter, probes and public tests (no hidden tests, no reference)")
    sub.add_argument("slug", metavar="SLUG")
    sub.add_argument("dir", nargs="?", metavar="DIR", help="the workspace folder (default: ./SLUG)")

    sub = add_command(commands, "test", command_test, "run a workspace's public tests on its solution.py")
    sub.add_argument("dir", nargs="?", default=".", metavar="DIR", help="the workspace (default: the current folder)")
    sub.add_argument("--device", default="cpu")


def register_grading_commands(commands) -> None:
    sub = add_command(commands, "grade", command_grade,
                      "grade one submission with the public and hidden tests; write results.json and the reports")
    sub.add_argument("submission", metavar="SUBMISSION", help="a folder holding solution.py, a .py file or a .zip")
    sub.add_argument("--challenge", metavar="SLUG", help="default: the slug in the submission's challenge.toml")
    sub.add_argument("--out", default="diffchallenge-results", metavar="DIR",
                     help="folder for results.json, the reports and the grader log (default: %(default)s)")
    sub.add_argument("--format", dest="formats", action="append", choices=list(reports.FORMATS),
                     help="reports to write beside results.json (repeatable; default: all)")
    sub.add_argument("--device", default="cpu")
    sub.add_argument("--public-only", action="store_true", help="grade with the public tests alone")
    sub.add_argument("--force", action="store_true", help="overwrite results already in --out")
    add_runner_arguments(sub)

    sub = add_command(commands, "grade-batch", command_grade_batch,
                      "grade one submission per student (subfolders, .zip or .py files) into a gradebook")
    sub.add_argument("submissions", metavar="SUBMISSIONS", help="folder with one submission per student")
    sub.add_argument("--challenge", required=True, metavar="SLUG")
    sub.add_argument("--out", required=True, metavar="DIR", help="one result folder per student, plus the gradebook")
    sub.add_argument("--jobs", type=int, default=1, metavar="N",
                     help="gradings at once; each gets cores/N threads (default: %(default)s)")
    sub.add_argument("--force", action="store_true", help="grade again students already graded in --out")
    sub.add_argument("--device", default="cpu")
    add_runner_arguments(sub)

    sub = add_command(commands, "scoreboard", command_scoreboard,
                      "grade every reference solution and print a scoreboard")
    sub.add_argument("--device", default="cpu")


def register_author_commands(commands) -> None:
    sub = add_command(commands, "new", command_new,
                      "scaffold a challenge (statement, metadata, starter, probes, tests, reference, mutants)")
    sub.add_argument("slug", metavar="SLUG")
    sub.add_argument("--title")
    sub.add_argument("--domain", choices=sorted(bank.DOMAINS), default="architecture")
    sub.add_argument("--difficulty", choices=bank.DIFFICULTIES, default="medium")

    sub = add_command(commands, "verify", command_verify,
                      "self-check: reference full marks, starter zero, every mutant loses")
    sub.add_argument("slugs", nargs="*", metavar="SLUG")
    sub.add_argument("--device", default="cpu")
    sub.add_argument("--jobs", type=int, default=batch.usable_cores(),
                     help="gradings at once, each with cores / jobs threads (default: one per core)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffchallenge", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Each module registers its own subcommands: one `register(commands)` line each.
    register_candidate_commands(commands)
    register_grading_commands(commands)
    register_author_commands(commands)
    add_nbgrader_commands(commands)
    add_image_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, SubmissionRefused, workspace.WorkspaceError, batch.BatchError, bank.UnknownChallenge,
            bank.ChallengeFormatError) as error:
        console.print(f"[red]error:[/] {error}")
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
