"""Mutation analysis of a reference solution, ``diffchallenge verify --mutate``: do the tests kill machine mutants?

Each mutant is the reference with one mutation by an operator of cosmic-ray (arithmetic, comparison, constants),
or of this module (swapped arguments, a dropped statement, another dtype). It is graded like a hand-written
mutant (``bank.verify``): killed when it loses points, an error when its solution.py cannot be imported or the
grader fails. A survivor is either a weakness of the tests or equivalent to the reference, which no test can
tell apart: the author says which, in ``solutions/<slug>/mutation.toml``, one line of reason per equivalent id.
"""

from __future__ import annotations

import ast
import re
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from itertools import permutations
from pathlib import Path

import parso
from cosmic_ray import plugins
from cosmic_ray.ast import ast_nodes
from cosmic_ray.mutating import mutate_code
from cosmic_ray.operators import number_replacer
from cosmic_ray.operators.operator import Example, Operator
from parso.python.tree import Keyword

from diffchallenge.bank.mutants import reference_dir
from diffchallenge.bank.mutation_record import Equivalent, Record, reference_sha256
from diffchallenge.bank.verify import NOT_IMPORTABLE, loses_points
from diffchallenge.grading import GradeOptions, GradingError, Runner
from pytest_diffchallenge.metadata import Challenge
from pytest_diffchallenge.verdict import RESULTS_FILE, Verdict, write_results

ARITHMETIC = ("Add", "Sub", "Mul", "Div", "FloorDiv", "Mod", "Pow")
COMPARISONS = ("Eq", "NotEq", "Lt", "LtE", "Gt", "GtE", "Is", "IsNot")
FLOAT_DTYPES = ("float32", "float64", "float16", "bfloat16")
DTYPE_ALIASES = {"float": "float32", "double": "float64", "half": "float16"}  # torch.float is torch.float32
CAST_METHODS = ("float", "double", "half", "bfloat16")


# -- the operators this module adds to cosmic-ray's -----------------------------------------------------------
class NumberReplacer(number_replacer.NumberReplacer):
    """cosmic-ray's NumberReplacer (n + 1, n - 1), keeping the number's whitespace so no line moves."""

    def mutate(self, node, index):
        mutated = super().mutate(node, index)
        mutated.value, mutated.prefix = mutated.value.strip(), node.prefix
        return mutated


class SwapArguments(Operator):
    """Swaps two adjacent positional arguments of a call: ``f(a, b)`` becomes ``f(b, a)``."""

    def mutation_positions(self, node):
        for first, second in self._pairs(node):
            yield first.start_pos, second.end_pos

    def mutate(self, node, index):
        first, second = list(self._pairs(node))[index]
        i, j = node.children.index(first), node.children.index(second)
        first_prefix, second_prefix = first.get_first_leaf().prefix, second.get_first_leaf().prefix
        node.children[i], node.children[j] = second, first
        second.get_first_leaf().prefix, first.get_first_leaf().prefix = first_prefix, second_prefix
        return node

    @staticmethod
    def _pairs(node):
        if node.type != "arglist" or node.parent.type != "trailer" or node.parent.children[0].value != "(":
            return
        positional = [child for child in node.children if child.type not in ("operator", "argument")]
        yield from zip(positional, positional[1:], strict=False)

    @classmethod
    def examples(cls):
        return (Example("f(a, b, c=1)", "f(b, a, c=1)"),)


class DropStatement(Operator):
    """Replaces one simple statement inside a function body with ``pass``."""

    def mutation_positions(self, node):
        for statement in self._statements(node):
            yield statement.start_pos, statement.end_pos

    def mutate(self, node, index):
        statement = list(self._statements(node))[index]
        replacement = Keyword("pass", statement.start_pos, prefix=statement.get_first_leaf().prefix)
        replacement.parent = node
        node.children[node.children.index(statement)] = replacement
        return node

    @staticmethod
    def _statements(node):
        if node.type != "simple_stmt" or node.search_ancestor("funcdef") is None:
            return
        # a bare string (a docstring) or pass does nothing: dropping it could only make an equivalent mutant
        yield from (child for child in node.children if child.type not in ("operator", "newline", "string", "fstring")
                    and child.get_code(include_prefix=False) != "pass")

    @classmethod
    def examples(cls):
        return (Example("def f():\n    x = 1\n", "def f():\n    pass\n"),)


class ReplaceDtype(Operator):
    """Another floating dtype: ``torch.float32`` becomes ``torch.float16``, ``x.float()`` becomes ``x.half()``."""

    def mutation_positions(self, node):
        for _ in self._replacements(node):
            yield node.start_pos, node.end_pos

    def mutate(self, node, index):
        node.value = self._replacements(node)[index]
        return node

    @staticmethod
    def _replacements(node) -> list[str]:
        trailer = node.parent
        if node.type != "name" or trailer is None or trailer.type != "trailer" or trailer.children[0].value != ".":
            return []
        call = trailer.get_next_sibling()
        if call is not None and call.type == "trailer" and call.get_code(include_prefix=False) == "()":
            return [method for method in CAST_METHODS if method != node.value] if node.value in CAST_METHODS else []
        receiver = trailer.get_previous_sibling()
        dtype = DTYPE_ALIASES.get(node.value, node.value)
        if receiver is None or receiver.type != "name" or receiver.value != "torch" or dtype not in FLOAT_DTYPES:
            return []
        return [other for other in FLOAT_DTYPES if other != dtype]

    @classmethod
    def examples(cls):
        return (Example("torch.float32", "torch.float64"), Example("x.float()", "x.double()"))


def core(name: str) -> Operator:
    return plugins.get_operator(f"core/{name}")()


# Family -> operators, in the order mutants are made (and numbered).
FAMILIES: dict[str, tuple[Operator, ...]] = {
    "arithmetic": (*(core(f"ReplaceBinaryOperator_{a}_{b}") for a, b in permutations(ARITHMETIC, 2)),
                   core("ReplaceUnaryOperator_Delete_USub")),
    "comparison": tuple(core(f"ReplaceComparisonOperator_{a}_{b}") for a, b in permutations(COMPARISONS, 2)),
    "constant": (NumberReplacer(), core("ReplaceTrueWithFalse"), core("ReplaceFalseWithTrue")),
    "swapped-arguments": (SwapArguments(),),
    "dropped-statement": (DropStatement(),),
    "dtype": (ReplaceDtype(),),
}


# -- making mutants ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MachineMutant:
    id: str  # operator@line:column#occurrence
    family: str
    description: str  # line N: original -> mutated
    source: str

    def write(self, folder: Path) -> Path:
        """Write this mutant as ``folder/solution.py`` and return the folder."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "solution.py").write_text(self.source)
        return folder


def docstring_spans(tree) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    scopes = [tree, *(node for node in ast_nodes(tree) if node.type in ("funcdef", "classdef"))]
    return [(doc.start_pos, doc.end_pos) for scope in scopes if (doc := scope.get_doc_node()) is not None]


def positions(tree, operator: Operator) -> Iterator[tuple[int, int]]:
    """Where each occurrence starts, numbered as cosmic-ray's MutationVisitor numbers them (a pre-order walk)."""
    for node in ast_nodes(tree):
        for start, _ in operator.mutation_positions(node):
            yield start


def syntax_tree(source: str) -> str | None:
    """The syntax tree of ``source``, as text, or None when it does not compile."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # e.g. `x is 1`: it compiles, which is all we ask
            compile(source, "solution.py", "exec")
    except (SyntaxError, ValueError):
        return None
    return ast.dump(ast.parse(source))


def reference_mutants(challenge: Challenge) -> list[MachineMutant]:
    return generate_mutants((reference_dir(challenge) / "solution.py").read_text())


def generate_mutants(source: str) -> list[MachineMutant]:
    """One mutant per mutation that compiles, outside docstrings, each a program unlike the reference and the others."""
    tree = parso.parse(source)
    docstrings = docstring_spans(tree)
    lines = source.splitlines()
    seen = {syntax_tree(source)}
    mutants = []
    for family, operators in FAMILIES.items():
        for operator in operators:
            for occurrence, (line, column) in enumerate(positions(tree, operator)):
                if any(start <= (line, column) < end for start, end in docstrings):
                    continue
                mutated = mutate_code(source, operator, occurrence)
                tree_text = syntax_tree(mutated) if mutated is not None else None
                if tree_text is None or tree_text in seen:
                    continue
                seen.add(tree_text)
                new_lines = mutated.splitlines()
                new_line = new_lines[line - 1] if line <= len(new_lines) else ""
                mutants.append(MachineMutant(
                    id=f"{type(operator).__name__}@{line}:{column + 1}#{occurrence}", family=family,
                    description=f"line {line}: {lines[line - 1].strip()}  ->  {new_line.strip()}", source=mutated))
    return mutants


# -- grading them ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Graded:
    mutant: MachineMutant
    outcome: str  # killed | survived | error
    message: str
    seconds: float


def outcome(verdict: Verdict) -> tuple[str, str]:
    if any(t.raised == NOT_IMPORTABLE for t in verdict.tests):
        return "error", "its solution.py cannot be imported"
    if verdict.status != "graded":
        return "error", "; ".join(verdict.errors) or "a test could not be run by the grader"
    return ("killed", "") if loses_points(verdict) else ("survived", "")


def folder_name(mutant_id: str) -> str:
    return re.sub(r"[^\w.-]", "_", mutant_id)


def grade_mutants(challenge: Challenge, mutants: Sequence[MachineMutant], workdir: Path, runner: Runner, *,
                  jobs: int = 1, threads: int = 1, device: str = "cpu",
                  on_graded: Callable[[Graded], None] = lambda graded: None) -> list[Graded]:
    """Grade each mutant until its first failing test, ``jobs`` at once; each verdict is kept in its own folder."""
    options = GradeOptions(device=device, threads=threads, stop_at_first_failure=True)

    def run(mutant: MachineMutant) -> Graded:
        name = folder_name(mutant.id)
        out = workdir / "mutant" / name
        started = time.monotonic()
        try:
            verdict = runner.grade(challenge, mutant.write(workdir / "mutant-sources" / name), out, options)
        except GradingError as error:
            graded = Graded(mutant, "error", str(error), time.monotonic() - started)
        else:
            write_results(out / RESULTS_FILE, verdict)
            graded = Graded(mutant, *outcome(verdict), seconds=time.monotonic() - started)
        on_graded(graded)
        return graded

    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        return list(pool.map(run, mutants))
    finally:  # interrupted: the mutants not yet started never start (the caller stops those running)
        pool.shutdown(wait=False, cancel_futures=True)


# -- the record of a run -----------------------------------------------------------------------------------------
def make_record(challenge: Challenge, graded: Sequence[Graded], previous: Record | None) -> Record:
    """The record of this run: each survivor keeps the reason the previous record gave it, else an empty one."""
    reasons = {entry.id: entry.reason for entry in previous.equivalent} if previous else {}
    survivors = [g.mutant for g in graded if g.outcome == "survived"]
    return Record(reference_sha256=reference_sha256(challenge), cosmic_ray=version("cosmic-ray"),
                  mutants=len(graded), killed=sum(g.outcome == "killed" for g in graded), survived=len(survivors),
                  errors=sum(g.outcome == "error" for g in graded),
                  equivalent=tuple(Equivalent(m.id, reasons.get(m.id, ""), m.description) for m in survivors))
