"""The contract: parsed from challenge.toml, shown in the statement, covered by the tests."""

import shutil
from pathlib import Path

import pytest

from diffchallenge.bank import contract
from pytest_diffchallenge.metadata import ChallengeFormatError, ContractItem, load_challenge
from pytest_diffchallenge.verdict import Status, TestRecord, Verdict

TOY = Path(__file__).parents[1] / "toy-bank" / "challenges" / "toy-challenge"


@pytest.fixture
def toy(tmp_path):
    folder = tmp_path / "challenges" / "toy-challenge"
    shutil.copytree(TOY, folder)
    return folder


def record(name: str, visibility: str, covers: tuple[str, ...]) -> TestRecord:
    return TestRecord(name=name, nodeid=name, status=Status.PASSED, max_score=1, visibility=visibility, covers=covers)


def test_the_contract_loads_in_order(toy):
    assert load_challenge(toy).meta.contract == (
        ContractItem("scaled-sum", "scaled_sum(a, b, alpha) returns a + alpha * b, for any alpha"),
        ContractItem("memory", "big_sum stays within 6 MiB of tensor memory"))


@pytest.mark.parametrize("item, message", [
    ('id = "Dtype Any"\ntext = "x"', "must be lower-case words joined by '-'"),
    ('id = "x"', "exactly an 'id' and a 'text'"),
    ('id = "x"\ntext = "x"\nweight = 2', "exactly an 'id' and a 'text'"),
    ('id = "x"\ntext = " "', "one non-empty line"),
    ('id = "scaled-sum"\ntext = "again"', "listed twice"),
], ids=["id format", "no text", "extra field", "blank text", "duplicate"])
def test_a_malformed_item_names_the_file_and_the_item(toy, item, message):
    path = toy / "challenge.toml"
    path.write_text(path.read_text() + f"\n[[contract]]\n{item}\n")
    with pytest.raises(ChallengeFormatError, match=message) as error:
        load_challenge(toy)
    assert f"{path} [[contract]] #3" in str(error.value)


def test_the_statement_must_show_the_current_contract(toy):
    challenge = load_challenge(toy)
    assert contract.statement_problems(challenge) == []
    readme = toy / "README.md"
    readme.write_text(readme.read_text().replace("for any alpha", "for alpha > 0"))
    assert contract.statement_problems(challenge) == [
        "README.md's contract block differs from challenge.toml's [[contract]] items"]
    readme.write_text("# no contract here\n")
    assert "README.md has no contract block" in contract.statement_problems(challenge)[0]
    readme.unlink()
    assert contract.statement_problems(challenge) == ["README.md is missing: the statement, with the contract block"]


def test_every_item_needs_a_hidden_test_and_every_test_an_item(toy):
    challenge = load_challenge(toy)
    covered = Verdict("toy", "toy", [record("test_public", "visible", ("memory",)),
                                     record("test_hidden", "hidden", ("scaled-sum", "memory"))])
    assert contract.coverage_problems(challenge, covered) == []
    public_only = Verdict("toy", "toy", [record("test_public", "visible", ("scaled-sum", "memory")),
                                         record("test_hidden", "hidden", ("scaled-sum",)),
                                         record("test_other", "hidden", ())])
    assert contract.coverage_problems(challenge, public_only) == ["test test_other covers no contract item",
                                                                  "contract item 'memory' has no hidden test"]


def test_covers_survives_the_results_file():
    test = record("test_hidden", "hidden", ("scaled-sum", "memory"))
    assert TestRecord.from_json(test.to_json()) == test
