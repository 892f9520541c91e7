"""Metadata validation: every error names the file and the field; the bank finds its challenges by slug."""

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from diffchallenge.bank import mutation_record
from diffchallenge.bank.challenges import UnknownChallenge, all_challenges, get_challenge
from diffchallenge.bank.mutants import mutants_file
from pytest_diffchallenge import markers
from pytest_diffchallenge.metadata import ChallengeFormatError, is_secret, load_metadata

VALID = """
slug = "x"
title = "X"
domain = "safety"
difficulty = "hard"
question = "Why is pickle unsafe?"
points = 3
edit = ["solution.py"]
"""


def write(tmp_path, text):
    path = tmp_path / "challenge.toml"
    path.write_text(text)
    return path


def test_valid_metadata_loads_with_defaults(tmp_path):
    meta = load_metadata(write(tmp_path, VALID))
    assert (meta.slug, meta.points, meta.forbidden, meta.limits.timeout_s) == ("x", 3, [], 60.0)


class MarkedItem:
    """A test item with one marker, as markers.memory_ceiling reads it."""

    def __init__(self, *args):
        self.marker = pytest.mark.memory_limit(*args).mark

    def get_closest_marker(self, name):
        return self.marker if name == "memory_limit" else None


def test_the_memory_ceiling_follows_the_device(tmp_path):
    limits = '[limits]\ntensor_memory = "40 MiB"\ncuda_tensor_memory = "8 GiB"\n'
    challenge = SimpleNamespace(meta=load_metadata(write(tmp_path, VALID + limits)))
    assert markers.memory_ceiling(MarkedItem(), challenge, "cpu") == 40 * 1024**2
    assert markers.memory_ceiling(MarkedItem(), challenge, "cuda:0") == 8 * 1024**3
    assert markers.memory_ceiling(MarkedItem("1 MiB"), challenge, "cuda") == 1024**2, "the marker's size wins"
    cpu_only = SimpleNamespace(meta=load_metadata(write(tmp_path, VALID + '[limits]\ntensor_memory = "40 MiB"\n')))
    assert markers.memory_ceiling(MarkedItem(), cpu_only, "cuda") == 40 * 1024**2, "else the one ceiling applies"


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('domain = "safety"', 'domain = "cooking"'), "field 'domain' must be one of"),
    (lambda t: t.replace("points = 3", "points = -1"), "field 'points' must be positive"),
    (lambda t: t.replace("points = 3", 'points = "3"'), "field 'points' must be int, got str"),
    (lambda t: t.replace('title = "X"\n', ""), "missing required field 'title'"),
    (lambda t: t + "colour = 1\n", "unknown field 'colour'"),
    (lambda t: t + "[limits]\nworker_memory = \"lots\"\n", "not a memory size: 'lots'"),
    (lambda t: t + "[limits]\nspeed = 2\n", "[limits]: unknown field 'speed'"),
    (lambda t: t + "points = 4\n", "not valid TOML"),
], ids=["domain", "negative points", "points type", "missing title", "unknown field", "bad size",
        "unknown limit", "bad toml"])
def test_errors_name_file_and_field(tmp_path, edit, message):
    path = write(tmp_path, edit(VALID))
    with pytest.raises(ChallengeFormatError) as error:
        load_metadata(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_unknown_slug_lists_the_known_ones():
    with pytest.raises(UnknownChallenge, match="unknown challenge 'nope' .*ddim-step"):
        get_challenge("nope")


def test_every_challenge_in_the_bank_is_complete():
    challenges = all_challenges()
    assert challenges
    for challenge in challenges:
        for part in (challenge.statement, challenge.starter, challenge.probes, challenge.public_tests,
                     challenge.hidden_tests, challenge.reference_dir / "solution.py", mutants_file(challenge)):
            assert part is not None and part.is_file(), f"{challenge.slug}: missing {part}"
        # What candidates see is public; the hidden tests, the reference and its mutants are secret.
        for public in (challenge.statement, challenge.starter, challenge.probes, challenge.public_tests):
            assert not is_secret(public), f"{challenge.slug}: {public} counts as secret"
        for secret in (challenge.hidden_tests, challenge.reference_dir / "solution.py", mutants_file(challenge)):
            assert is_secret(secret), f"{challenge.slug}: {secret} does not count as secret"
        assert not (challenge.root / "test_hidden.py").exists(), f"{challenge.slug}: a hidden test in challenges/"


def test_every_mutation_record_was_made_from_the_current_reference():
    for challenge in all_challenges():
        path = mutation_record.record_file(challenge)
        if path.is_file():
            assert mutation_record.read_record(path).reference_sha256 == mutation_record.reference_sha256(challenge), \
                f"{path} is older than the reference: run diffchallenge verify --mutate {challenge.slug} --record"


def test_the_readme_catalog_shows_each_challenges_points_and_mutation_score():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    # | [`slug`](...) | domain | difficulty | points | GPU variant | mutation score | question |
    row = r"^\| \[`([a-z0-9-]+)`\]\([^)]*\) \| [^|]+ \| [^|]+ \| (\d+) \| [^|]+ \| ([^|]+) \|"
    rows = {slug: (points, score) for slug, points, score in re.findall(row, readme, re.M)}
    for challenge in all_challenges():
        assert rows.get(challenge.slug) == (str(challenge.meta.points), mutation_record.catalog_score(challenge)), \
            f"README.md's catalog row for {challenge.slug} is stale: `diffchallenge list` has the current figures"
