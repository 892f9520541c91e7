import os
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
# An image of the toy bank, for the tests that grade with the Docker runner (scripts/test.sh builds it).
TOY_IMAGE = os.environ.get("DIFFCHALLENGE_TOY_IMAGE", "")
DOCKER_SKIP = (
    "the Docker runner grades the challenges baked into its image (the bank it was built from, checked against "
    "the local bank by the image's bank-hash label), and tests/toy-bank is not in diffchallenge:cpu. Build an "
    "image of the toy bank under its own tag (DIFFCHALLENGE_BANK=$PWD/tests/toy-bank diffchallenge image build "
    "--cpu --tag diffchallenge:toy-cpu) and set DIFFCHALLENGE_TOY_IMAGE=diffchallenge:toy-cpu to run these cases")

pytest_plugins = ["pytester"]
collect_ignore = ["toy-bank", "hostile"]  # graded as data by the tests, never collected as tests


@pytest.fixture
def toy_bank(tmp_path, monkeypatch):
    """A bank of the toy challenge and its hidden test, with a time limit that survives a loaded machine."""
    root = tmp_path / "bank"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(TOY, root / "challenges" / "toy-challenge", ignore=ignore)
    shutil.copytree(TOY_BANK / "solutions" / "toy-challenge", root / "solutions" / "toy-challenge", ignore=ignore)
    metadata = root / "challenges" / "toy-challenge" / "challenge.toml"
    metadata.write_text(metadata.read_text().replace("timeout_s = 5", "timeout_s = 60"))
    monkeypatch.setenv("DIFFCHALLENGE_BANK", str(root))
    return root


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
