"""Mutants: plausible wrong solutions that a challenge's tests must catch.

``solutions/<slug>/mutants.toml`` lists them as edits of the reference solution, so each mutant is
the reference with one mistake a candidate would make, and stays in step with the reference:

    [[mutant]]
    name = "wrong-prev-timestep"
    mistake = "steps to the neighbouring entry of self.timesteps instead of t - T // n"
    replace = "timestep - self.config.num_train_timesteps // self.num_inference_steps"
    with = "..."

An edit may also be a list: ``edits = [{replace = "...", with = "..."}, ...]``. Each ``replace`` must
occur exactly once in the reference, so a mutant can never silently stop applying, and every mutant must
compile: one that does not is a ``ChallengeFormatError`` (an error in ``verify``), never a "caught" mutant.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pytest_diffchallenge.metadata import Challenge, ChallengeFormatError


@dataclass(frozen=True)
class Mutant:
    name: str
    mistake: str
    edits: tuple[tuple[str, str], ...]

    def source(self, reference: str, origin: Path) -> str:
        for old, new in self.edits:
            if reference.count(old) != 1:
                raise ChallengeFormatError(f"{origin}: mutant {self.name!r}: the text to replace occurs "
                                           f"{reference.count(old)} times in the reference, not once: {old!r}")
            reference = reference.replace(old, new)
        try:
            compile(reference, f"{self.name}/solution.py", "exec")
        except (SyntaxError, ValueError) as error:
            raise ChallengeFormatError(f"{origin}: mutant {self.name!r} does not compile: {error}") from None
        return reference

    def write(self, challenge: Challenge, folder: Path) -> Path:
        """Write this mutant as ``folder/solution.py`` and return the folder."""
        folder.mkdir(parents=True, exist_ok=True)
        reference = (reference_dir(challenge) / "solution.py").read_text()
        (folder / "solution.py").write_text(self.source(reference, mutants_file(challenge)))
        return folder


def reference_dir(challenge: Challenge) -> Path:
    if challenge.reference_dir is None:
        raise ChallengeFormatError(f"{challenge.root} is not in a bank: it has no solutions/ folder")
    return challenge.reference_dir


def mutants_file(challenge: Challenge) -> Path:
    return reference_dir(challenge) / "mutants.toml"


def load_mutants(challenge: Challenge) -> list[Mutant]:
    """The challenge's mutants, each checked to apply and to compile."""
    path = mutants_file(challenge)
    if not path.is_file():
        return []
    reference = (reference_dir(challenge) / "solution.py").read_text()
    try:
        entries = tomllib.loads(path.read_text()).get("mutant", [])
    except tomllib.TOMLDecodeError as error:
        raise ChallengeFormatError(f"{path}: not valid TOML: {error}") from None
    mutants = []
    for index, entry in enumerate(entries):
        where = f"{path}: mutant #{index + 1}"
        if not {"name", "mistake"} <= set(entry):
            raise ChallengeFormatError(f"{where}: needs 'name' and 'mistake'")
        edits = entry.get("edits") or [{"replace": entry.get("replace"), "with": entry.get("with")}]
        if not isinstance(edits, list) or not all(
                isinstance(e, dict) and isinstance(e.get("replace"), str) and isinstance(e.get("with"), str)
                for e in edits):
            raise ChallengeFormatError(f"{where} ({entry['name']}): needs 'replace' and 'with' strings, or 'edits'")
        mutants.append(Mutant(entry["name"], entry["mistake"], tuple((e["replace"], e["with"]) for e in edits)))
    names = [m.name for m in mutants]
    if len(set(names)) != len(names):
        raise ChallengeFormatError(f"{path}: mutant names must be unique")
    for mutant in mutants:
        mutant.source(reference, path)
    return mutants
