"""Machine mutants and the mutation record, without grading: every operator family mutates, docstrings stay,
every mutant compiles, ids are stable, and mutation.toml round-trips and says when it is out of date."""

import ast
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from cosmic_ray.operators.operator import Operator

from diffchallenge.bank import mutation, mutation_record
from diffchallenge.bank.mutation import Graded, MachineMutant
from diffchallenge.bank.mutation_record import Equivalent, Record
from pytest_diffchallenge.metadata import ChallengeFormatError, load_challenge

TOY_BANK = Path(__file__).resolve().parents[1] / "toy-bank"

SOURCE = '''\
"""Blending, for the mutation tests: 1 + 2 == 3, torch.float32 and x.float() stay as they are here."""

import torch


def blend(a, b, weight=0.5, clamp=False):
    """Mix a and b: a * weight + b * (1 - weight), in fp32."""
    if weight > 1:
        weight = 1.0
    mixed = a * weight + b * (1 - weight)
    mixed = torch.maximum(mixed, b)
    return mixed.to(torch.float32).float()
'''


@pytest.fixture(scope="module")
def mutants() -> list[MachineMutant]:
    return mutation.generate_mutants(SOURCE)


def mutated_lines(mutants, family: str) -> set[str]:
    return {m.description.split("  ->  ")[1] for m in mutants if m.family == family}


def test_every_operator_family_makes_a_mutant(mutants):
    assert {m.family for m in mutants} == set(mutation.FAMILIES)


@pytest.mark.parametrize("family, mutated", [
    ("arithmetic", "mixed = a * weight - b * (1 - weight)"),
    ("comparison", "if weight >= 1:"),
    ("constant", "def blend(a, b, weight=1.5, clamp=False):"),
    ("constant", "def blend(a, b, weight=0.5, clamp=True):"),
    ("swapped-arguments", "mixed = torch.maximum(b, mixed)"),
    ("dropped-statement", "pass"),
    ("dtype", "return mixed.to(torch.float16).float()"),
    ("dtype", "return mixed.to(torch.float32).half()"),
])
def test_each_family_makes_the_mutation_it_names(mutants, family, mutated):
    assert mutated in mutated_lines(mutants, family)


def test_docstrings_are_never_mutated(mutants):
    tree = ast.parse(SOURCE)
    for mutant in mutants:
        mutated = ast.parse(mutant.source)
        assert ast.get_docstring(mutated) == ast.get_docstring(tree), mutant.id
        assert ast.get_docstring(mutated.body[2]) == ast.get_docstring(tree.body[2]), mutant.id
    assert not [m for m in mutants if m.source.count('"""') != SOURCE.count('"""')]


def test_every_mutant_compiles_and_is_a_program_of_its_own(mutants):
    programs = {ast.dump(ast.parse(SOURCE))}
    for mutant in mutants:
        compile(mutant.source, mutant.id, "exec")
        program = ast.dump(ast.parse(mutant.source))
        assert program not in programs, f"{mutant.id} is the reference or an earlier mutant"
        programs.add(program)


def test_ids_are_stable_unique_and_name_operator_line_column_and_occurrence(mutants):
    again = mutation.generate_mutants(SOURCE)
    assert [(m.id, m.source) for m in again] == [(m.id, m.source) for m in mutants]
    assert len({m.id for m in mutants}) == len(mutants)
    assert all(re.fullmatch(r"\w+@\d+:\d+#\d+", m.id) for m in mutants), [m.id for m in mutants]
    swap = next(m for m in mutants if m.family == "swapped-arguments")
    assert swap.id == "SwapArguments@11:27#0"
    assert swap.description == "line 11: mixed = torch.maximum(mixed, b)  ->  mixed = torch.maximum(b, mixed)"


def test_a_number_keeps_its_place_on_the_line(mutants):
    [shifted] = [m for m in mutants if "weight=1.5" in m.source]
    assert shifted.source == SOURCE.replace("weight=0.5", "weight=1.5")


class BreaksSyntax(Operator):
    """Turns every name ``weight`` into ``weight weight``: never valid Python."""

    def mutation_positions(self, node):
        if node.type == "name" and node.value == "weight":
            yield node.start_pos, node.end_pos

    def mutate(self, node, index):
        node.value = "weight weight"
        return node

    @classmethod
    def examples(cls):
        return ()


def test_a_mutant_that_does_not_compile_is_skipped(monkeypatch):
    monkeypatch.setattr(mutation, "FAMILIES", {"broken": (BreaksSyntax(),)})
    assert mutation.generate_mutants(SOURCE) == []


# -- the record ---------------------------------------------------------------------------------------------------
@pytest.fixture
def toy(tmp_path):
    shutil.copytree(TOY_BANK, tmp_path / "bank", ignore=shutil.ignore_patterns("__pycache__"))
    return load_challenge(tmp_path / "bank" / "challenges" / "toy-challenge")


def graded(outcomes: dict[str, str]) -> list[Graded]:
    return [Graded(MachineMutant(ident, "arithmetic", f"line 2: a + b  ->  a - b {ident} \"quoted\" \\ ± \x7f", ""),
                   outcome, "", 1.0) for ident, outcome in outcomes.items()]


def test_a_record_round_trips(toy):
    record = mutation.make_record(toy, graded({"A@1:1#0": "killed", "B@2:1#0": "survived", "C@3:1#0": "error"}),
                                  None)
    path = mutation_record.record_file(toy)
    mutation_record.write_record(path, record)
    assert mutation_record.read_record(path) == record
    assert (record.mutants, record.killed, record.survived, record.errors) == (3, 1, 1, 1)
    assert record.reference_sha256 == mutation_record.reference_sha256(toy)
    assert record.equivalent == (Equivalent("B@2:1#0", "", 'line 2: a + b  ->  a - b B@2:1#0 "quoted" \\ ± \x7f'),)
    assert "score = 0.3333" in path.read_text()


def test_the_score_leaves_out_the_equivalent_mutants():
    record = Record("sha", "8.7.0", mutants=10, killed=6, survived=4, errors=0,
                    equivalent=(Equivalent("a", "x * 1 is x"), Equivalent("b", " "), Equivalent("c", "")))
    assert record.explained == {"a"}
    assert record.score == 6 / 9


def test_a_new_record_keeps_the_reasons_of_mutants_that_still_survive(toy):
    previous = Record("old", "8.7.0", 3, 1, 2, 0, (Equivalent("B@2:1#0", "dead code"),
                                                  Equivalent("D@4:1#0", "was equivalent, now killed")))
    record = mutation.make_record(toy, graded({"B@2:1#0": "survived", "D@4:1#0": "killed", "E@5:1#0": "survived"}),
                                  previous)
    assert [(e.id, e.reason) for e in record.equivalent] == [("B@2:1#0", "dead code"), ("E@5:1#0", "")]


def test_record_is_current_says_what_is_missing(toy):
    path = mutation_record.record_file(toy)
    assert "is missing" in mutation_record.record_is_current(toy)
    record = mutation.make_record(toy, graded({"A@1:1#0": "killed", "B@2:1#0": "survived"}), None)
    mutation_record.write_record(path, record)
    assert mutation_record.record_is_current(toy).endswith("1 survivors without a reason: B@2:1#0")
    path.write_text(path.read_text().replace('reason = ""', 'reason = "never read"'))
    assert mutation_record.record_is_current(toy) is None
    reference = mutation.reference_dir(toy) / "solution.py"
    reference.write_text(reference.read_text() + "\n# edited\n")
    assert "made from another solution.py" in mutation_record.record_is_current(toy)


def test_a_broken_record_is_a_format_error(toy):
    path = mutation_record.record_file(toy)
    path.write_text("mutants = [")
    with pytest.raises(ChallengeFormatError, match="not a mutation record"):
        mutation_record.read_record(path)
    path.write_text("mutants = 3\n")
    assert "not a mutation record: KeyError" in mutation_record.record_is_current(toy)


def test_the_catalog_shows_the_recorded_score(toy):
    assert mutation_record.catalog_score(toy) == "-"
    record = mutation.make_record(toy, graded({"A@1:1#0": "killed", "B@2:1#0": "survived", "C@3:1#0": "survived"}),
                                  None)
    mutation_record.write_record(mutation_record.record_file(toy), record)
    assert mutation_record.catalog_score(toy) == "33.3%"  # no survivor has a reason yet: both count
    mutation_record.write_record(mutation_record.record_file(toy), replace(
        record, equivalent=(Equivalent("B@2:1#0", "x * 1 is x"), Equivalent("C@3:1#0", ""))))
    assert mutation_record.catalog_score(toy) == "50.0%"
