import shutil
from pathlib import Path

import pytest

from diffchallenge.grading import GradeOptions, grade
from pytest_diffchallenge.metadata import load_challenge
from pytest_diffchallenge.verdict import Verdict

HERE = Path(__file__).parent
TOY_BANK = HERE / "toy-bank"
TOY = TOY_BANK / "challenges" / "toy-challenge"
HOSTILE = HERE / "hostile"

pytest_plugins = ["pytester"]
collect_ignore = ["toy-bank", "hostile"]  # graded as data by the tests, never collected as tests


@pytest.fixture
def grade_toy(tmp_path):
    """Grade a file from tests/hostile/ as the toy challenge's solution.py; return the verdict."""

    def run(name: str, **options) -> Verdict:
        submission = tmp_path / name / "submission"
        submission.mkdir(parents=True)
        shutil.copyfile(HOSTILE / f"{name}.py", submission / "solution.py")
        return grade(load_challenge(TOY), submission, tmp_path / name / "out", GradeOptions(**options))

    return run


def by_name(verdict: Verdict) -> dict:
    return {test.name: test for test in verdict.tests}
