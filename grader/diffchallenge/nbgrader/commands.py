"""``diffchallenge nbgrader export|autograde``: the command group. nbgrader is an optional dependency and
slow to import, so the handlers import the kit's nbgrader side (``export``, ``autograde``) only when used."""

from __future__ import annotations

from pathlib import Path

from diffchallenge.exits import EXIT_INFRA, EXIT_OK, EXIT_USAGE
from diffchallenge.nbgrader.classroom import DEFAULT_ASSIGNMENT
from diffchallenge.runners.choice import add_runner_arguments, runner_for


def command_export(args) -> int:
    from diffchallenge.nbgrader.export import export

    for path in export(args.slugs, Path(args.course), args.assignment, args.public_only):
        print(f"wrote {path}")
    print(f"next: cd {args.course} && nbgrader generate_assignment {args.assignment}")
    return EXIT_OK


def command_autograde(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from diffchallenge.grading import GradeOptions
    from diffchallenge.nbgrader.autograde import CourseError, autograde

    try:
        grades = autograde(args.assignment, Path(args.course), args.student, GradeOptions(device=args.device),
                           runner_for(args))
    except CourseError as error:
        Console(stderr=True).print(f"[red]error:[/] {error}")
        return EXIT_USAGE
    table = Table(title=f"diffchallenge nbgrader autograde {args.assignment}")
    for column in ("student", "notebook", "score", "note"):
        table.add_column(column)
    for entry in grades:
        score = "[magenta]not graded[/]" if entry.score is None else f"{entry.score:g}/{entry.max_score:g}"
        table.add_row(entry.student, entry.notebook, score, entry.note)
    Console().print(table)
    return EXIT_INFRA if any(entry.score is None for entry in grades) else EXIT_OK


def add_nbgrader_commands(commands) -> None:
    group = commands.add_parser("nbgrader", help="export challenges as an nbgrader course; grade it with the kit")
    subcommands = group.add_subparsers(dest="nbgrader_command", required=True, metavar="COMMAND")

    sub = subcommands.add_parser("export", help="create or update an nbgrader course from challenges")
    sub.add_argument("slugs", nargs="+", metavar="SLUG")
    sub.add_argument("--course", required=True, metavar="DIR", help="the course's root folder")
    sub.add_argument("--assignment", default=DEFAULT_ASSIGNMENT, metavar="NAME")
    sub.add_argument("--public-only", action="store_true",
                     help="leave the hidden tests out: a practice assignment graded with the public tests alone")
    sub.set_defaults(handler=command_export)

    sub = subcommands.add_parser("autograde", help="grade submitted notebooks with the kit into nbgrader's gradebook")
    sub.add_argument("assignment", metavar="ASSIGNMENT")
    sub.add_argument("--course", required=True, metavar="DIR", help="the course's root folder")
    sub.add_argument("--student", action="append", metavar="ID", help="grade only this student (repeatable)")
    sub.add_argument("--device", default="cpu")
    add_runner_arguments(sub)
    sub.set_defaults(handler=command_autograde)
