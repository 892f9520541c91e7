"""The notebook side of nbgrader support (the only part of the kit a student's kernel imports), and the
``diffchallenge nbgrader`` command group, whose handlers load the nbgrader side (nbgrader_export.py,
nbgrader_autograde.py) only when used.

``%load_ext diffchallenge.classroom`` registers the ``%%solution SLUG`` cell magic, which runs the cell
and remembers its source. A test cell calls ``check(SLUG, TEST)``: it writes that source to a temporary
``solution.py``, grades it OUT of this kernel (a ``diffchallenge grade`` subprocess) and returns the
points TEST earned, or raises when it earned none, which is how nbgrader reads a test cell.

These cells give feedback; they are not a verdict. Every cell of the notebook shares this kernel, so a
student's cell can replace ``check`` itself. The grade that resists tampering comes from
``diffchallenge nbgrader autograde`` (see NBGRADER.md).

Nothing here writes to stderr: nbgrader scores a test cell with any stderr output as 0.
"""

from __future__ import annotations

import json
import linecache
import subprocess
import sys
import tempfile
from pathlib import Path

SOLUTION_MAGIC = "solution"
DEFAULT_ASSIGNMENT = "diffchallenge"
MESSAGE_LINES = 8

_solutions: dict[str, str] = {}
_verdicts: dict[tuple[str, str, bool], dict] = {}


def function_of(test_name: str) -> str:
    """The test function a result belongs to: ``test_step[fp16]`` -> ``test_step``."""
    return test_name.split("[", 1)[0]


def solution_source(cell_source: str) -> str:
    """The Python in a solution cell: its source without the ``%%solution`` line."""
    first, _, rest = cell_source.partition("\n")
    return rest if first.strip().startswith(f"%%{SOLUTION_MAGIC}") else cell_source


def load_ipython_extension(ipython) -> None:
    def solution(line: str, cell: str) -> None:
        """%%solution SLUG: run this cell and keep its source for the test cells of challenge SLUG."""
        slug = line.strip()
        if not slug:
            raise ValueError("usage: %%solution SLUG")
        _solutions[slug] = cell
        filename = f"<solution {slug}>"
        linecache.cache[filename] = (len(cell), None, cell.splitlines(keepends=True), filename)  # for tracebacks
        exec(compile(cell, filename, "exec"), ipython.user_ns)

    ipython.register_magic_function(solution, magic_kind="cell", magic_name=SOLUTION_MAGIC)


def grade_out_of_process(slug: str, source: str, public_only: bool) -> dict:
    """Grade ``source`` with ``diffchallenge grade`` in a child process; the verdict, or an error dict."""
    with tempfile.TemporaryDirectory(prefix="diffchallenge-notebook-") as workdir:
        submission, out = Path(workdir, "submission"), Path(workdir, "out")
        submission.mkdir()
        (submission / "solution.py").write_text(source)
        command = [sys.executable, "-m", "diffchallenge.cli", "grade", str(submission), "--challenge", slug,
                   "--out", str(out), "--force"] + (["--public-only"] if public_only else [])
        process = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        results = out / "results.json"
        if not results.is_file():
            return {"status": "error", "errors": [process.stdout[-2000:]], "tests": []}
        return json.loads(results.read_text())


def check(slug: str, test: str, hidden: bool = False) -> float:
    """Grade the solution cell of ``slug`` and report test function ``test``: the points it earned.

    Raises AssertionError when it earned nothing (nbgrader: 0 for the cell). The verdict is cached per
    solution source, so the test cells after the first cost nothing.
    """
    source = _solutions.get(slug)
    if source is None:
        raise AssertionError(f"run the solution cell first; its first line must stay `%%{SOLUTION_MAGIC} {slug}`")
    key = (slug, source, not hidden)
    if key not in _verdicts:
        _verdicts[key] = grade_out_of_process(slug, source, public_only=not hidden)
    verdict = _verdicts[key]
    if verdict["status"] == "error" and not verdict["tests"]:
        raise AssertionError("the grader could not run (not your fault): " + "\n".join(verdict["errors"]))
    results = [t for t in verdict["tests"] if function_of(t["name"]) == test]
    if not results:
        raise AssertionError(f"the grader ran no test named {test}")
    for result in results:
        print(f"{result['status']:>7}  {result['score']:g}/{result['max_score']:g}  {result['name']}")
        if result["message"] and not hidden:
            print("\n".join("         " + line for line in result["message"].splitlines()[:MESSAGE_LINES]))
    earned, possible = sum(r["score"] for r in results), sum(r["max_score"] for r in results)
    if earned == 0:
        raise AssertionError(f"{test}: 0/{possible:g} points")
    return earned


# -- the `diffchallenge nbgrader` command group -------------------------------------------------------------
# nbgrader is an optional dependency and slow to import: the handlers import its side of the kit on use, so
# that every other diffchallenge command (and a notebook's kernel) runs without it.
def command_export(args) -> int:
    from diffchallenge.cli import EXIT_OK
    from diffchallenge.nbgrader_export import export

    for path in export(args.slugs, Path(args.course), args.assignment, args.public_only):
        print(f"wrote {path}")
    print(f"next: cd {args.course} && nbgrader generate_assignment {args.assignment}")
    return EXIT_OK


def command_autograde(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from diffchallenge.cli import EXIT_INFRA, EXIT_OK, EXIT_USAGE
    from diffchallenge.docker_runner import grader_for
    from diffchallenge.grading import GradeOptions
    from diffchallenge.nbgrader_autograde import CourseError, autograde

    try:
        grades = autograde(args.assignment, Path(args.course), args.student, GradeOptions(device=args.device),
                           grader_for(args))
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
    from diffchallenge.docker_runner import add_runner_arguments  # not at the top: it imports torch

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
