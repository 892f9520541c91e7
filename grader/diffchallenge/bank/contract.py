"""A challenge's contract: the graded promises listed in ``challenge.toml``, shown in its statement and
covered by its tests (``@pytest.mark.covers(id)``).

The statement holds a copy of the list between two markers, like diffusers' "Copied from" blocks; ``verify``
checks that the copy is current, that every item has a hidden test, and that every test covers an item.
"""

from __future__ import annotations

from pytest_diffchallenge.metadata import Challenge
from pytest_diffchallenge.verdict import Verdict

BEGIN = "<!-- contract: generated from challenge.toml; diffchallenge verify checks it -->"
END = "<!-- end of contract -->"


def statement_block(challenge: Challenge) -> str:
    """The statement's copy of the contract, markers included."""
    lines = [f"- `{item.id}`: {item.text}" for item in challenge.meta.contract]
    return "\n".join([BEGIN, *lines, END])


def statement_problems(challenge: Challenge) -> list[str]:
    if not challenge.statement.is_file():
        return ["README.md is missing: the statement, with the contract block"]
    text = challenge.statement.read_text(encoding="utf-8")
    if not challenge.meta.contract:
        return ["challenge.toml lists no [[contract]] items"]
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return [f"README.md has no contract block (from '{BEGIN}' to '{END}')"]
    if text[start:end + len(END)] != statement_block(challenge):
        return ["README.md's contract block differs from challenge.toml's [[contract]] items"]
    return []


def coverage_problems(challenge: Challenge, verdict: Verdict) -> list[str]:
    """Items no hidden test covers, and tests that cover no item (from a verdict of every test)."""
    problems = [f"test {test.name} covers no contract item" for test in verdict.tests if not test.covers]
    hidden_cover = {name for test in verdict.tests if test.hidden for name in test.covers}
    problems += [f"contract item {item.id!r} has no hidden test" for item in challenge.meta.contract
                 if item.id not in hidden_cover]
    return problems
