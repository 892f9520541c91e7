"""Export challenges as a real nbgrader course: ``diffchallenge nbgrader export SLUG... --course DIR``.

Each challenge becomes ``source/<assignment>/<slug>.ipynb``: the statement, a solution cell filled from the
reference between nbgrader's ``### BEGIN/END SOLUTION`` markers, and one autograded test cell per test
function of the challenge, worth that function's points. Hidden tests sit in ``### BEGIN/END HIDDEN TESTS``
blocks, so ``nbgrader generate_assignment`` strips both the solution and the hidden test code.

The cells and their points come from pytest's own collection of the challenge's tests (the grader's
``points`` and ``hidden`` markers), so a cell is worth exactly what the grader awards for it.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from diffchallenge.bank.challenges import UnknownChallenge, get_challenge
from diffchallenge.bank.mutants import reference_dir
from diffchallenge.grading import GradingError, session_limit
from diffchallenge.nbgrader.classroom import DEFAULT_ASSIGNMENT, SOLUTION_MAGIC, function_of
from pytest_diffchallenge import markers
from pytest_diffchallenge.metadata import Challenge, is_secret

CONFIG_FILE = "nbgrader_config.py"
SOLUTION_CELL = "solution"
SCHEMA_VERSION = 3


def nbgrader_metadata(grade_id: str, *, grade: bool = False, solution: bool = False, points: float = 0) -> dict:
    metadata = {"grade": grade, "solution": solution, "locked": not solution, "grade_id": grade_id,
                "schema_version": SCHEMA_VERSION}
    if grade:
        metadata["points"] = points
    return {"nbgrader": metadata}


class PointsCollector:
    """A pytest plugin that records what each collected test is worth, and runs nothing."""

    def __init__(self):
        self.tests: list[dict] = []

    def pytest_collection_finish(self, session):
        self.tests = [{"name": item.name, "points": markers.points(item), "hidden": is_secret(item.path)}
                      for item in session.items]


def collect_tests(challenge: Challenge, public_only: bool) -> list[dict]:
    """The challenge's tests, in grading order, with their points and visibility."""
    hidden = challenge.hidden_tests
    files = [challenge.public_tests] + ([hidden] if hidden and hidden.is_file() else [])
    collector, output = PointsCollector(), io.StringIO()
    # The grader's plugin stays off: collection needs its markers only, not its workers or secret. The bank
    # is the root so that each challenge's test modules get their own names in this process.
    with contextlib.redirect_stdout(output):
        exit_code = pytest.main([*map(str, files), "--collect-only", "-q", "-p", "no:diffchallenge",
                                 "-p", "no:cacheprovider", "--import-mode=importlib",
                                 "--rootdir", str(challenge.root.parent.parent), "-c", os.devnull], plugins=[collector])
    if exit_code != pytest.ExitCode.OK:
        raise GradingError(f"could not collect the tests of {challenge.slug}:\n{output.getvalue()[-2000:]}")
    total = sum(test["points"] for test in collector.tests)
    if total != challenge.meta.points:
        raise GradingError(f"the tests of {challenge.slug} add up to {total:g} points but challenge.toml declares "
                           f"{challenge.meta.points}")
    return [test for test in collector.tests if not (public_only and test["hidden"])]


def grade_cells_of(tests: list[dict]) -> list[dict]:
    """One entry per test function, in grading order: name, points, hidden."""
    cells: dict[str, dict] = {}
    for test in tests:
        name = function_of(test["name"])
        cell = cells.setdefault(name, {"name": name, "points": 0.0, "hidden": False})
        cell["points"] += test["points"]
        cell["hidden"] = cell["hidden"] or test["hidden"]
    return list(cells.values())


def grading_note(challenge: Challenge) -> str:
    return f"""## How this notebook is graded
Write your code in the cell that starts with `%%{SOLUTION_MAGIC} {challenge.slug}` (keep that first line).
Only that cell is graded: put any helper you need inside it.

The test cells below grade that cell in a separate process and show the points each test earns. They are
feedback: your grade comes from the course's grader, which reads your solution cell and runs it isolated
from this notebook, with hidden tests added. Running the test cells takes a while (the grader starts a
fresh Python and builds tiny models).

Starter code (`solution.py` of the challenge):

```python
{challenge.starter.read_text().rstrip()}
```
"""


def build_notebook(challenge: Challenge, public_only: bool) -> nbformat.NotebookNode:
    reference = (reference_dir(challenge) / "solution.py").read_text().rstrip()
    cells = [
        new_markdown_cell(challenge.statement.read_text(), metadata=nbgrader_metadata("statement")),
        new_markdown_cell(grading_note(challenge), metadata=nbgrader_metadata("grading-note")),
        new_code_cell("%load_ext diffchallenge.nbgrader.classroom", metadata=nbgrader_metadata("setup")),
        new_code_cell(f"%%{SOLUTION_MAGIC} {challenge.slug}\n### BEGIN SOLUTION\n{reference}\n### END SOLUTION",
                      metadata=nbgrader_metadata(SOLUTION_CELL, solution=True)),
    ]
    for cell in grade_cells_of(collect_tests(challenge, public_only)):
        call = f'from diffchallenge.nbgrader.classroom import check\ncheck("{challenge.slug}", "{cell["name"]}"'
        if cell["hidden"]:
            source = f"# A hidden test, run when your notebook is graded.\n### BEGIN HIDDEN TESTS\n" \
                     f"{call}, hidden=True)\n### END HIDDEN TESTS"
        else:
            source = call + ")"
        points = int(cell["points"]) if cell["points"].is_integer() else cell["points"]
        cells.append(new_code_cell(source, metadata=nbgrader_metadata(cell["name"], grade=True, points=points)))
    return new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        # read by `diffchallenge nbgrader autograde` from this (the instructor's) copy only
        "diffchallenge": {"slug": challenge.slug, "public_only": public_only},
    })


def config_text(challenges: list[Challenge]) -> str:
    # A test cell grades a whole session out of process: give it the longest of these challenges' sessions.
    timeout = max(int(session_limit(challenge)) for challenge in challenges)
    return f'''"""nbgrader configuration written by `diffchallenge nbgrader export` (export never rewrites it)."""

c = get_config()  # noqa: F821 (nbgrader provides get_config)

# Each test cell grades the solution cell in a separate process; nbgrader's default of 30 s per cell is too short.
c.Execute.timeout = {timeout}
'''


def export(slugs: list[str], course: Path, assignment: str = DEFAULT_ASSIGNMENT,
           public_only: bool = False) -> list[Path]:
    """Write (or update) the course's config and one source notebook per challenge; return the notebooks.

    ``public_only`` leaves the hidden tests out: a practice assignment, graded with the public tests alone.
    """
    challenges = [get_challenge(slug) for slug in slugs]
    for challenge in challenges:
        if challenge.reference_dir is None or not (challenge.reference_dir / "solution.py").is_file():
            raise UnknownChallenge(f"{challenge.slug} has no reference solution to fill the solution cell")
    course.mkdir(parents=True, exist_ok=True)
    if not (course / CONFIG_FILE).exists():
        (course / CONFIG_FILE).write_text(config_text(challenges))
    written = []
    for challenge in challenges:
        path = course / "source" / assignment / f"{challenge.slug}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build_notebook(challenge, public_only), path)
        written.append(path)
    return written
