"""The notebook side of nbgrader support: the only part of the kit a student's kernel imports.

``%load_ext diffchallenge.nbgrader.classroom`` registers the ``%%solution SLUG`` cell magic, which runs the cell
and remembers its source. A test cell calls ``check(SLUG, TEST)``: it writes that source to a temporary
``solution.py``, grades it OUT of this kernel (a ``diffchallenge grade`` subprocess) and returns the
points TEST earned, or raises when it earned none, which is how nbgrader reads a test cell.

These cells give feedback; they are not a verdict. Every cell of the notebook shares this kernel, so a
student's cell can replace ``check`` itself. The grade that resists tampering comes from
``diffchallenge nbgrader autograde`` (see grader/diffchallenge/nbgrader/README.md).

Nothing here writes to stderr: nbgrader scores a test cell with any stderr output as 0.
"""

from __future__ import annotations

import linecache
import subprocess
import sys
import tempfile
from pathlib import Path

from pytest_diffchallenge.verdict import RESULTS_FILE, Verdict, VerdictError, read_results

SOLUTION_MAGIC = "solution"
DEFAULT_ASSIGNMENT = "diffchallenge"
MESSAGE_LINES = 8

_solutions: dict[str, str] = {}
_verdicts: dict[tuple[str, str, bool], Verdict | str] = {}


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


def grade_out_of_process(slug: str, source: str, public_only: bool) -> Verdict | str:
    """Grade ``source`` with ``diffchallenge grade`` in a child process: the verdict, or why there is none."""
    with tempfile.TemporaryDirectory(prefix="diffchallenge-notebook-") as workdir:
        submission, out = Path(workdir, "submission"), Path(workdir, "out")
        submission.mkdir()
        (submission / "solution.py").write_text(source)
        command = [sys.executable, "-m", "diffchallenge.cli", "grade", str(submission), "--challenge", slug,
                   "--out", str(out), "--force"] + (["--public-only"] if public_only else [])
        process = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        try:
            return read_results(out / RESULTS_FILE)
        except VerdictError:
            return process.stdout[-2000:]


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
    if isinstance(verdict, str):
        raise AssertionError("the grader could not run (not your fault): " + verdict)
    results = [t for t in verdict.tests if function_of(t.name) == test]
    if not results:
        raise AssertionError(f"the grader ran no test named {test}")
    for result in results:
        print(f"{result.status:>7}  {result.score:g}/{result.max_score:g}  {result.name}")
        if result.message and not hidden:
            print("\n".join("         " + line for line in result.message.splitlines()[:MESSAGE_LINES]))
    earned, possible = sum(r.score for r in results), sum(r.max_score for r in results)
    if earned == 0:
        raise AssertionError(f"{test}: 0/{possible:g} points")
    return earned
