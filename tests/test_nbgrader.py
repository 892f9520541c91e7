"""nbgrader support end to end, with the real nbgrader CLI from this environment.

One course (ddim-step and timestep-embedding, public tests only, to keep the gradings short) and five students:
correct, empty, partly wrong, a tamperer (an extra cell patches torch.testing and the kit's check function) and
one whose notebook kills its kernel (and who never submitted ddim-step). The kit's autograde and plain
``nbgrader autograde`` each grade their own copy of it. A second course exports ddim-step with its hidden tests
to check what ``nbgrader generate_assignment`` hands out.
"""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell
from nbgrader.api import Gradebook

from diffchallenge import cli
from diffchallenge.bank.challenges import get_challenge
from diffchallenge.bank.mutants import load_mutants, mutants_file
from pytest_diffchallenge.verdict import RESULTS_FILE, read_results

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}  # nbgrader runs `alembic` from PATH
ASSIGNMENT = "practice"
SLUGS = ("ddim-step", "timestep-embedding")
WRONG = {"ddim-step": "v-prediction-swapped", "timestep-embedding": "ignores-flip"}  # mutants: partly wrong
TAMPERING = """import torch.testing
import diffchallenge.nbgrader.classroom
torch.testing.assert_close = lambda *args, **kwargs: None
diffchallenge.nbgrader.classroom.check = lambda *args, **kwargs: None  # a test cell without output gets full marks"""
KILL_KERNEL = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"


def run(*command, cwd=None, check=True) -> subprocess.CompletedProcess:
    process = subprocess.run([str(part) for part in command], cwd=cwd, env=ENV, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL)
    if check and process.returncode != 0:
        raise AssertionError(f"{command} exited with {process.returncode}:\n{process.stdout[-3000:]}\n"
                             f"{process.stderr[-3000:]}")
    return process


def diffchallenge(*args, **kwargs):
    return run(BIN / "diffchallenge", *args, **kwargs)


def nbgrader(course: Path, *args, check=True):
    return run(BIN / "nbgrader", *args, cwd=course, check=check)


def solution_cell(notebook):
    return next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "solution")


def submit(course: Path, student: str, slug: str, code: str | None, extra_cell: str | None = None) -> None:
    """Hand in the released notebook with ``code`` in the solution cell (None: left as released)."""
    notebook = nbformat.read(course / "release" / ASSIGNMENT / f"{slug}.ipynb", as_version=4)
    cell = solution_cell(notebook)
    if code is not None:
        cell.source = f"%%solution {slug}\n{code}"
    if extra_cell is not None:
        notebook.cells.insert(notebook.cells.index(cell) + 1, new_code_cell(extra_cell))
    path = course / "submitted" / student / ASSIGNMENT / f"{slug}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def cell_scores(course: Path) -> dict:
    """{student: {notebook: {cell: (score, max_score)}}}, read back through nbgrader's API."""
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            for notebook in submission.notebooks:
                scores.setdefault(submission.student.id, {})[notebook.name] = {
                    grade.name: (grade.score, grade.max_score) for grade in notebook.grades}
    return scores


def totals(cells: dict) -> tuple[float, float]:
    return sum(score for score, _ in cells.values()), sum(maximum for _, maximum in cells.values())


@pytest.fixture(scope="module")
def fresh_course(tmp_path_factory) -> Path:
    """The exported, released course with the five students' submissions, not graded yet."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    diffchallenge("nbgrader", "export", *SLUGS, "--course", course, "--assignment", ASSIGNMENT, "--public-only")
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    for slug in SLUGS:
        challenge = get_challenge(slug)
        reference = (challenge.reference_dir / "solution.py").read_text()
        mutant = next(m for m in load_mutants(challenge) if m.name == WRONG[slug])
        wrong = mutant.source(reference, mutants_file(challenge))
        submit(course, "correct", slug, reference)
        submit(course, "empty", slug, None)
        submit(course, "partial", slug, wrong)
        submit(course, "tamper", slug, wrong, extra_cell=TAMPERING)
    killer_code = (get_challenge("timestep-embedding").reference_dir / "solution.py").read_text()
    submit(course, "killer", "timestep-embedding", KILL_KERNEL + killer_code)
    return course


def copy_of(course: Path, name: str) -> Path:
    target = course.parent / name
    shutil.copytree(course, target)
    return target


@pytest.fixture(scope="module")
def kit_course(fresh_course) -> Path:
    course = copy_of(fresh_course, "kit")
    diffchallenge("nbgrader", "autograde", ASSIGNMENT, "--course", course)
    return course


@pytest.fixture(scope="module")
def plain_course(fresh_course) -> tuple[Path, subprocess.CompletedProcess]:
    """Plain `nbgrader autograde` on the partly wrong student, the tamperer and the kernel killer."""
    course = copy_of(fresh_course, "plain")
    return course, nbgrader(course, "autograde", ASSIGNMENT, "--student", "[kpt]*", check=False)


def test_release_strips_the_solution(fresh_course):
    for slug in SLUGS:
        reference = (get_challenge(slug).reference_dir / "solution.py").read_text()
        source = solution_cell(nbformat.read(fresh_course / "source" / ASSIGNMENT / f"{slug}.ipynb", 4)).source
        released = solution_cell(nbformat.read(fresh_course / "release" / ASSIGNMENT / f"{slug}.ipynb", 4)).source
        assert reference.strip() in source and "### BEGIN SOLUTION" in source
        assert released.startswith(f"%%solution {slug}\n") and "NotImplementedError" in released
        assert all(line not in released for line in reference.splitlines() if line.strip())


def test_hidden_tests_are_exported_and_stripped(tmp_path):
    course = tmp_path / "course"
    diffchallenge("nbgrader", "export", "ddim-step", "--course", course, "--assignment", "exam")
    nbgrader(course, "generate_assignment", "exam")
    source = nbformat.read(course / "source" / "exam" / "ddim-step.ipynb", 4)
    released = nbformat.read(course / "release" / "exam" / "ddim-step.ipynb", 4)
    graded = [cell for cell in source.cells if cell.metadata["nbgrader"].get("grade")]
    hidden = [cell for cell in graded if "### BEGIN HIDDEN TESTS" in cell.source]
    assert sum(cell.metadata["nbgrader"]["points"] for cell in graded) == get_challenge("ddim-step").meta.points
    assert {cell.metadata["nbgrader"]["grade_id"] for cell in hidden} >= {"test_timestep_spacings",
                                                                          "test_tiny_stable_diffusion_pipeline"}
    released_text = "\n".join(cell.source for cell in released.cells)
    assert "hidden=True" not in released_text and "test_timestep_spacings\"" not in released_text
    assert "### BEGIN SOLUTION" not in released_text and "alpha_prod_t_prev" not in released_text


def test_kit_autograde_gives_each_student_the_true_score(kit_course):
    scores = cell_scores(kit_course)
    for slug in SLUGS:
        assert all(score == maximum > 0 for score, maximum in scores["correct"][slug].values())
        assert all(score == 0 for score, _ in scores["empty"][slug].values())
        assert 0 < totals(scores["partial"][slug])[0] < totals(scores["partial"][slug])[1]
        # the tampering cell never runs: the tamperer gets exactly what the same code earns without it
        assert scores["tamper"][slug] == scores["partial"][slug]
    # partial credit inside one cell: v-prediction fails, epsilon and sample pass
    assert 0 < scores["partial"]["ddim-step"]["test_deterministic_step"][0] < 6
    assert totals(scores["killer"]["timestep-embedding"])[0] == 0
    assert totals(scores["killer"]["ddim-step"]) == (0, totals(scores["correct"]["ddim-step"])[1])  # not submitted


def test_nbgrader_export_and_feedback_show_the_kits_verdict(kit_course):
    scores = cell_scores(kit_course)
    nbgrader(kit_course, "export", "--to", kit_course / "grades.csv")
    with open(kit_course / "grades.csv") as grades:
        rows = {row["student_id"]: row for row in csv.DictReader(grades)}
    assert set(rows) == {"correct", "empty", "partial", "tamper", "killer"}
    for student, notebooks in scores.items():
        earned = sum(totals(cells)[0] for cells in notebooks.values())
        assert float(rows[student]["raw_score"]) == earned
        assert float(rows[student]["max_score"]) == sum(totals(cells)[1] for cells in notebooks.values())

    nbgrader(kit_course, "generate_feedback", ASSIGNMENT)
    html = (kit_course / "feedback" / "partial" / ASSIGNMENT / "ddim-step.html").read_text()
    assert "diffchallenge verdict" in html and "test_deterministic_step[v_prediction]" in html
    assert "does not match the expected output" in html  # the failed test's message
    correct = (kit_course / "feedback" / "correct" / ASSIGNMENT / "timestep-embedding.html").read_text()
    assert "get_timestep_embedding" in correct and "failed" not in correct
    kept = read_results(kit_course / "autograded" / "partial" / ASSIGNMENT / "diffchallenge" / "ddim-step" /
                        RESULTS_FILE)  # the per-submission verdict is kept, in the verdict's own format
    assert kept.challenge == "ddim-step" and kept.score == totals(scores["partial"]["ddim-step"])[0]


def test_plain_nbgrader_autograde(plain_course, kit_course):
    course, process = plain_course
    plain, kit = cell_scores(course), cell_scores(kit_course)
    # an honest student: the notebook's own test cells (graded out of process) agree with the kit, cell by cell
    assert plain["partial"] == kit["partial"]
    autograded = nbformat.read(course / "autograded" / "partial" / ASSIGNMENT / "ddim-step.ipynb", 4)
    outputs = [output for cell in autograded.cells if cell.metadata.get("nbgrader", {}).get("grade")
               for output in cell.outputs]
    assert outputs and not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    # the kernel killer: nbgrader reports the failure and the dead kernel's cells score nothing (nbgrader issue 427)
    assert process.returncode != 0 and "killer" in process.stdout + process.stderr
    assert totals(plain["killer"]["timestep-embedding"])[0] == 0
    # what the kit's autograde exists for: in a shared kernel, the tamperer's patch of `check` takes full marks
    for slug in SLUGS:
        assert totals(plain["tamper"][slug])[0] == totals(plain["tamper"][slug])[1] > totals(kit["tamper"][slug])[0]


def test_bad_input_exits_2(fresh_course, tmp_path):
    assert cli.main(["nbgrader", "autograde", "no-such-assignment", "--course", str(fresh_course)]) == 2
    assert cli.main(["nbgrader", "autograde", ASSIGNMENT, "--course", str(tmp_path)]) == 2
    assert cli.main(["nbgrader", "export", "no-such-challenge", "--course", str(tmp_path)]) == 2
    assert not list(tmp_path.iterdir())  # nothing written for bad input
