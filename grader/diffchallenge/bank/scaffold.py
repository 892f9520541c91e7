"""``diffchallenge new SLUG``: a challenge folder with every part in place, as a small working example.

The example (scale a sample) grades end to end from the start, so `diffchallenge verify SLUG` shows the
parts working together; an author then replaces each TODO with the real task. The layout follows
challenges/README.md: the statement, metadata, starter, probes and public tests, and beside them
solutions/<slug>/ with the reference, its mutants and the hidden tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from diffchallenge.bank import challenges

SLUG_PATTERN = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")

FILES = {
    "challenges/$slug/README.md": '''\
# $slug: $title

*Interview question:* TODO: the question this challenge comes from.

## Task
TODO: what to write. In this example: complete `scale(sample, factor)` in `solution.py` so that it returns
`sample * factor`, with the input's shape and dtype.

## Grading ($points points)
Your code runs in an isolated worker; the grader compares it with the library on inputs drawn from a
secret seed in the hidden tests.

| what | how |
| --- | --- |
| TODO: each graded behaviour | TODO: tolerance, e.g. `rtol=1e-6, atol=1e-6` |

## Contract
<!-- contract: generated from challenge.toml; diffchallenge verify checks it -->
- `scale`: scale(sample, factor) returns sample * factor, with the input's shape and dtype
<!-- end of contract -->

Budgets: 30 s per test, 2 GiB of worker memory.

Run the public tests with `diffchallenge test` in your workspace.
''',
    "challenges/$slug/challenge.toml": '''\
slug = "$slug"
title = "$title"
domain = "$domain"
difficulty = "$difficulty"
question = "TODO: the interview question"
points = $points  # the sum of the tests' points
edit = ["solution.py"]
forbidden = []  # dotted APIs that would do the task, e.g. "diffusers.DDIMScheduler.step"
gpu_variant = false

[limits]
timeout_s = 30
worker_memory = "2 GiB"

# TODO: each graded promise of the statement, one line each; every test names those it covers with
# @pytest.mark.covers(id), and README.md shows this list.
[[contract]]
id = "scale"
text = "scale(sample, factor) returns sample * factor, with the input's shape and dtype"
''',
    "challenges/$slug/solution.py": '''\
"""$slug: the starter. See README.md."""


def scale(sample, factor):
    raise NotImplementedError("scale is not implemented yet: return sample * factor (see README.md)")
''',
    "challenges/$slug/probes.py": '''\
"""Trusted helpers for $slug. Each runs with ``solution`` = the candidate's module (in the worker) or
``ORACLE`` (in the grader), so both sides do exactly the same thing."""

from types import SimpleNamespace

from pytest_diffchallenge import recipes

# TODO: expose the library under the names the candidate implements.
ORACLE = SimpleNamespace(scale=lambda sample, factor: sample * factor)
SHAPE = (2, 4, 8, 8)


def random_sample(seed):
    return recipes.seeded_randn(SHAPE, seed)


def scale(solution, sample, factor):
    return {"scaled": solution.scale(sample, factor)}
''',
    "challenges/$slug/test_public.py": '''\
"""Public tests for $slug: run them with `diffchallenge test`."""

import pytest

TOLERANCE = dict(rtol=1e-6, atol=1e-6)


@pytest.mark.points(2)
@pytest.mark.covers("scale")
def test_scale(equivalence, probes):
    equivalence.check("scale", **TOLERANCE, sample=probes.random_sample(0), factor=0.5)
''',
    "solutions/$slug/test_hidden.py": '''\
"""Hidden tests for $slug: inputs come from the run's secret seed."""

import pytest

TOLERANCE = dict(rtol=1e-6, atol=1e-6)


@pytest.mark.points(2)
@pytest.mark.covers("scale")
def test_scale_secret_inputs(equivalence, probes, hidden_seed):
    equivalence.check("scale", **TOLERANCE, sample=probes.random_sample(hidden_seed),
                      factor=1.0 + hidden_seed % 5)
''',
    "solutions/$slug/solution.py": '''\
"""$slug: the reference solution (graders only)."""


def scale(sample, factor):
    return sample * factor
''',
    "solutions/$slug/mutants.toml": '''\
# Plausible mistakes for $slug; each must lose points. See grader/diffchallenge/bank/mutants.py for the format.

[[mutant]]
name = "ignores-factor"
mistake = "returns the sample unscaled"
replace = "return sample * factor"
with = "return sample"
''',
}
POINTS = 4


def create(slug: str, title: str, domain: str, difficulty: str, root: Path | None = None) -> list[Path]:
    """Write the scaffold of ``slug`` into the bank at ``root``; refuse to touch an existing challenge."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise ValueError(f"slug {slug!r} must be lowercase words joined by hyphens, like 'ddim-step'")
    root = root or challenges.bank_root()
    values = dict(slug=slug, title=title.replace('"', "'"), domain=domain, difficulty=difficulty, points=POINTS)
    targets = {root / Template(path).substitute(values): Template(text).substitute(values)
               for path, text in FILES.items()}
    for folder in {path.parent for path in targets}:
        if folder.exists():
            raise ValueError(f"{folder} already exists; choose another slug or remove it")
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    challenges.load_bank_challenge(root / "challenges" / slug)  # the scaffold must itself be valid
    return sorted(targets)
