"""The diffchallenge command line.

Exit codes: 0 graded (whatever the score), 2 bad usage or input, 3 infrastructure error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from diffchallenge import bank
from diffchallenge.grading import GradeOptions, GradingError, grade
from diffchallenge.mutants import load_mutants

EXIT_OK, EXIT_USAGE, EXIT_INFRA = 0, 2, 3
EPILOG = """exit codes:
  0  graded (whatever the score)
  2  bad usage or bad input (unknown challenge, no solution.py, ...)
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
        table.add_row(test["name"], test["visibility"], f"[{style}]{test['status']}[/]",
                      f"{test['score']:g}/{test['max_score']:g}", first_line[:120])
    console.print(table)
    for error in verdict.get("errors", []):
        console.print(f"[magenta]grader error:[/] {error}")
    console.print(f"[bold]score: {score_line(verdict)}[/]")


def resolve_submission(path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"no such submission: {path}")
    if not (path / "solution.py").is_file():
        raise UsageError(f"{path} holds no solution.py")
    return path


def command_grade(args) -> int:
    challenge = bank.get_challenge(args.challenge)
    submission = resolve_submission(Path(args.submission))
    out = Path(args.out)
    if (out / "results.json").exists() and not args.force:
        raise UsageError(f"{out} already holds results; pass --force to overwrite them")
    verdict = grade(challenge, submission, out, GradeOptions(device=args.device, public_only=args.public_only))
    print_verdict(verdict)
    console.print(f"results: {out / 'results.json'}")
    return EXIT_INFRA if verdict["status"] == "error" else EXIT_OK


def command_list(args) -> int:
    table = Table(title="diffchallenge challenges")
    for column in ("slug", "title", "domain", "difficulty", "points", "GPU variant"):
        table.add_column(column)
    for challenge in bank.all_challenges():
        meta = challenge.meta
        if args.domain and meta.domain != args.domain:
            continue
        table.add_row(meta.slug, meta.title, meta.domain, meta.difficulty, str(meta.points),
                      "yes" if meta.gpu_variant else "no")
    Console().print(table)
    return EXIT_OK


def verify_challenge(challenge: bank.Challenge, workdir: Path, options: GradeOptions) -> list[dict]:
    """The author's self-check: reference full marks (twice, same verdict), starter zero, every mutant loses."""
    rows = []

    def run(kind: str, name: str, folder: Path, expectation: str, check) -> dict:
        verdict = grade(challenge, folder, workdir / kind / name, options)
        ok = verdict["status"] == "graded" and check(verdict)
        rows.append({"challenge": challenge.slug, "kind": kind, "name": name, "score": verdict["score"],
                     "max_score": verdict["max_score"], "expected": expectation, "ok": ok,
                     "seconds": verdict["duration_s"], "errors": verdict.get("errors", [])})
        return verdict

    full = lambda v: v["score"] == v["max_score"] == challenge.meta.points  # noqa: E731
    first = run("reference", "first run", challenge.reference_dir, "full marks", full)
    second = run("reference", "second run", challenge.reference_dir, "same verdict", full)
    rows[-1]["ok"] = rows[-1]["ok"] and [t["status"] for t in first["tests"]] == [t["status"] for t in second["tests"]]
    run("starter", "starter", challenge.root, "zero", lambda v: v["score"] == 0)
    for mutant in load_mutants(challenge):
        folder = mutant.write(challenge, workdir / "mutant-sources" / mutant.name)
        run("mutant", mutant.name, folder, "loses points", lambda v: v["score"] < v["max_score"])
    return rows


def command_verify(args) -> int:
    challenges = [bank.get_challenge(s) for s in args.slugs] if args.slugs else bank.all_challenges()
    table = Table(title="diffchallenge verify")
    for column in ("challenge", "kind", "name", "score", "expected", "ok", "seconds"):
        table.add_column(column)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="diffchallenge-verify-") as workdir:
        for challenge in challenges:
            console.print(f"verifying {challenge.slug} ...")
            for row in verify_challenge(challenge, Path(workdir) / challenge.slug, GradeOptions(device=args.device)):
                failures += not row["ok"]
                table.add_row(row["challenge"], row["kind"], row["name"], f"{row['score']:g}/{row['max_score']:g}",
                              row["expected"], "[green]yes[/]" if row["ok"] else "[red]NO[/]", f"{row['seconds']:.1f}")
    Console().print(table)
    return 1 if failures else EXIT_OK


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
            table.add_row(challenge.slug, challenge.meta.domain, f"{verdict['score']:g}/{verdict['max_score']:g}",
                          score_line(verdict).split(" ", 1)[1], f"{verdict['duration_s']:.1f}")
    Console().print(table)
    return worst


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffchallenge", description=__doc__.splitlines()[0],
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub = commands.add_parser("grade", help="grade one submission with the public and hidden tests",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.add_argument("submission", help="folder holding solution.py")
    sub.add_argument("--challenge", required=True, metavar="SLUG")
    sub.add_argument("--out", required=True, metavar="DIR", help="folder for results.json and the grader log")
    sub.add_argument("--device", default="cpu")
    sub.add_argument("--public-only", action="store_true", help="grade with the public tests alone")
    sub.add_argument("--force", action="store_true", help="overwrite results already in --out")
    sub.set_defaults(handler=command_grade)

    sub = commands.add_parser("list", help="the challenges, with domain, difficulty and points")
    sub.add_argument("--domain", choices=sorted(bank.DOMAINS))
    sub.set_defaults(handler=command_list)

    sub = commands.add_parser("verify", help="self-check: reference full marks, starter zero, every mutant loses")
    sub.add_argument("slugs", nargs="*", metavar="SLUG")
    sub.add_argument("--device", default="cpu")
    sub.set_defaults(handler=command_verify)

    sub = commands.add_parser("scoreboard", help="grade every reference solution and print a scoreboard")
    sub.add_argument("--device", default="cpu")
    sub.set_defaults(handler=command_scoreboard)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, bank.UnknownChallenge, bank.ChallengeFormatError) as error:
        console.print(f"[red]error:[/] {error}")
        return EXIT_USAGE
    except GradingError as error:
        console.print(f"[magenta]infrastructure error:[/] {error}")
        return EXIT_INFRA


if __name__ == "__main__":
    sys.exit(main())
