"""Grade an nbgrader course with the kit: ``diffchallenge nbgrader autograde ASSIGNMENT --course DIR``.

For each submitted notebook (``submitted/<student>/<assignment>/<slug>.ipynb``) this reads the solution
cells only, grades them with the trusted grader (the student's code runs in the kit's isolated worker, never
in a kernel shared with the test cells), then writes the per-cell scores into nbgrader's own gradebook
through ``nbgrader.api.Gradebook`` and an autograded notebook with the feedback, so that ``nbgrader export``,
``nbgrader generate_feedback`` and formgrader show the kit's verdict. Nothing a student's other cells do can
reach the score: they are never run.

Which cells are solution cells, and what each test cell is worth, come from the gradebook (filled by
``nbgrader generate_assignment`` from the instructor's source), never from the submitted notebook.
"""

from __future__ import annotations

import copy
import dataclasses
import glob
import re
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_output
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests
from rich.console import Console
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from diffchallenge.bank.challenges import get_challenge
from diffchallenge.grading import GradeOptions, GradingError, LocalRunner, Runner
from diffchallenge.nbgrader.classroom import MESSAGE_LINES, function_of, solution_source
from diffchallenge.nbgrader.export import CONFIG_FILE
from diffchallenge.reports.results import write_reports
from pytest_diffchallenge.metadata import Challenge
from pytest_diffchallenge.verdict import Verdict

console = Console(stderr=True)


class CourseError(ValueError):
    """The course is not in a state to grade: no such assignment, a notebook out of date with its challenge."""


@dataclasses.dataclass
class NotebookGrade:
    student: str
    notebook: str
    score: float | None  # None: not graded (an infrastructure error, never a zero)
    max_score: float
    note: str = ""


def course_directory(course: Path) -> CourseDirectory:
    """nbgrader's view of the course, with the course's own nbgrader_config.py applied."""
    config = PyFileConfigLoader(CONFIG_FILE, path=str(course)).load_config() if (course / CONFIG_FILE).is_file() \
        else Config()
    return CourseDirectory(config=config, root=str(course.resolve()))


def submitted_students(coursedir: CourseDirectory, assignment: str) -> list[str]:
    pattern = re.compile(coursedir.format_path(coursedir.submitted_directory, "(?P<student_id>[^/]+)",
                                               re.escape(assignment), escape=True) + "$")
    found = glob.glob(coursedir.format_path(coursedir.submitted_directory, "*", assignment))
    return sorted(match["student_id"] for path in found if (match := pattern.match(path)))


def cell_scores(verdict: Verdict, grade_cells) -> dict[str, float]:
    """Points per grade cell: the sum over the tests of the cell's test function."""
    scores: dict[str, float] = {}
    possible: dict[str, float] = {}
    for test in verdict.tests:
        name = function_of(test.name)
        scores[name] = scores.get(name, 0.0) + test.score
        possible[name] = possible.get(name, 0.0) + test.max_score
    for cell in grade_cells:
        if possible.get(cell.name) != cell.max_score:
            raise CourseError(f"grade cell {cell.name!r} is worth {cell.max_score:g} points but the challenge's "
                              f"{cell.name} is worth {possible.get(cell.name, 0):g}: export the assignment again")
    return {cell.name: scores[cell.name] for cell in grade_cells}


def cell_feedback(verdict: Verdict, cell_name: str) -> str:
    lines = []
    for test in verdict.tests:
        if function_of(test.name) != cell_name:
            continue
        reason = f"  ({test.reason})" if test.reason else ""
        lines.append(f"{test.status:>7}  {test.score:g}/{test.max_score:g}  {test.name}{reason}")
        if test.message and not test.hidden:  # hidden tests say pass or fail and why, nothing more
            lines += ["         " + line for line in test.message.splitlines()[:MESSAGE_LINES]]
    return "\n".join(lines) + "\n"


def feedback_notebook(source: nbformat.NotebookNode, solution_cells: list[str], solution: str,
                      verdict: Verdict) -> nbformat.NotebookNode:
    """The instructor's notebook with the student's graded code in place of the reference, the hidden test
    code removed, and the kit's feedback as each test cell's output: exactly what was graded."""
    notebook, _ = ClearHiddenTests().preprocess(copy.deepcopy(source), {})
    kept_solution = False
    cells = []
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if grade_id in solution_cells:
            if kept_solution:
                continue  # the graded code of every solution cell is shown once, in the first
            cell.source, kept_solution = solution, True
        elif cell.metadata.get("nbgrader", {}).get("grade"):
            cell.outputs = [new_output("stream", name="stdout", text=cell_feedback(verdict, grade_id))]
        cells.append(cell)
    notebook.cells = cells
    return notebook


def autograde(assignment: str, course: Path, students: list[str] | None = None,
              options: GradeOptions = GradeOptions(), runner: Runner | None = None) -> list[NotebookGrade]:
    """Grade every submission of ``assignment`` and store the scores in the course's gradebook.

    ``runner``: local sessions (the default) or a Docker runner.
    """
    runner = runner or LocalRunner()
    coursedir = course_directory(course)
    if not Path(coursedir.root, coursedir.source_directory).is_dir():
        raise CourseError(f"{course} is not an nbgrader course: it has no {coursedir.source_directory}/ folder")
    grades = []
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        try:
            notebooks = gradebook.find_assignment(assignment).notebooks
        except MissingEntry:
            raise CourseError(f"the gradebook has no assignment {assignment!r}: run "
                              f"`nbgrader generate_assignment {assignment}` in {course} first") from None
        challenges = {notebook.name: get_challenge(notebook.name) for notebook in notebooks}
        for student in students or submitted_students(coursedir, assignment):
            submitted = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
            autograded = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
            gradebook.update_or_create_student(student)
            timestamp = coursedir.get_existing_timestamp(str(submitted))
            gradebook.update_or_create_submission(assignment, student,
                                                  **({"timestamp": timestamp} if timestamp else {}))
            for notebook in notebooks:
                grades.append(grade_submitted_notebook(gradebook, coursedir, assignment, student, notebook,
                                                       challenges[notebook.name], submitted, autograded,
                                                       options, runner))
    return grades


def grade_submitted_notebook(gradebook: Gradebook, coursedir: CourseDirectory, assignment: str, student: str,
                             notebook, challenge: Challenge, submitted: Path, autograded: Path,
                             options: GradeOptions, runner: Runner) -> NotebookGrade:
    path = submitted / f"{notebook.name}.ipynb"
    if not path.is_file():
        for cell in notebook.grade_cells:  # as nbgrader does for a missing notebook
            entry = gradebook.find_grade(cell.name, notebook.name, assignment, student)
            entry.auto_score, entry.needs_manual_grade = 0.0, False
        gradebook.db.commit()
        return NotebookGrade(student, notebook.name, 0.0, notebook.max_score, "not submitted")
    solution_cells = [cell.name for cell in notebook.solution_cells]
    solution = "\n\n".join(solution_source(cell.source) for cell in nbformat.read(path, as_version=4).cells
                           if cell.metadata.get("nbgrader", {}).get("grade_id") in solution_cells)
    source_path = Path(coursedir.format_path(coursedir.source_directory, ".", assignment)) / path.name
    source = nbformat.read(source_path, as_version=4)
    public_only = source.metadata.get("diffchallenge", {}).get("public_only", False)
    console.print(f"grading {student}/{assignment}/{notebook.name} ...")
    reports = autograded / "diffchallenge" / notebook.name
    try:
        with tempfile.TemporaryDirectory(prefix="diffchallenge-nbgrader-") as workdir:
            (Path(workdir) / "solution.py").write_text(solution)
            verdict = runner.grade(challenge, Path(workdir), reports,
                                   dataclasses.replace(options, public_only=public_only))
    except GradingError as error:
        return NotebookGrade(student, notebook.name, None, notebook.max_score, f"infrastructure error: {error}")
    write_reports(verdict, reports, challenge.meta.limits)
    if verdict.status == "error":
        return NotebookGrade(student, notebook.name, None, notebook.max_score,
                             "infrastructure error: " + "; ".join(verdict.errors or ["a test could not run"]))
    scores = cell_scores(verdict, notebook.grade_cells)
    for cell_name, score in scores.items():
        entry = gradebook.find_grade(cell_name, notebook.name, assignment, student)
        entry.auto_score = score
        entry.needs_manual_grade = entry.manual_score is not None  # as nbgrader does: a manual grade gets a review
    summary = f"diffchallenge verdict: {verdict.score:g}/{verdict.max_score:g} points"
    for cell_name in solution_cells:
        gradebook.find_comment(cell_name, notebook.name, assignment, student).auto_comment = summary
    gradebook.db.commit()
    autograded.mkdir(parents=True, exist_ok=True)
    nbformat.write(feedback_notebook(source, solution_cells, solution, verdict), autograded / path.name)
    return NotebookGrade(student, notebook.name, sum(scores.values()), notebook.max_score)
