import shutil
from pathlib import Path

import pytest

from diffchallenge.bank import load_challenge
from diffchallenge.grading import GradeOptions, grade

HERE = Path(__file__).parent
TOY = HERE / "toy-challenge"
HOSTILE = HERE / "hostile"

pytest_plugins = ["pytester"]
collect_ignore = ["toy-challenge", "hostile"]  # graded as data by the tests, never collected as tests


@pytest.fixture
def grade_toy(tmp_path):
    """Grade a file from tests/hostile/ as the toy challenge's solution.py; return the verdict."""

    def run(name: str, **options) -> dict:
        submission = tmp_path / name / "submission"
        submission.mkdir(parents=True)
        shutil.copyfile(HOSTILE / f"{name}.py", submission / "solution.py")
        return grade(load_challenge(TOY), submission, tmp_path / name / "out", GradeOptions(**options))

    return run


def by_name(verdict: dict) -> dict:
    return {test["name"]: test for test in verdict["tests"]}
