"""Which lines of the library the oracle reaches in a test, for ``diffchallenge verify``'s flakiness check.

A hidden test draws its values from the secret; it must not also draw its branches. ``verify`` grades the
reference under several secrets with ``--diffchallenge-trace-oracle``, and each test records a digest of the
lines the oracle ran in the files that define the challenge's forbidden APIs (the code the candidate
rewrites): a digest that differs between secrets is a branch that only some secrets reach.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from pytest_diffchallenge.worker.guards import resolve_owner

DIGEST_FIGURE = "oracle_lines_digest"
DIGEST_BITS = 52  # exact in a float, as figures are


@functools.cache
def watched_files(forbidden: tuple[str, ...]) -> frozenset[str]:
    """The source files that define ``forbidden`` (dotted names); those without Python source are skipped."""
    files = set()
    for dotted in forbidden:
        owner, name = resolve_owner(dotted)
        target = inspect.unwrap(getattr(owner, name))
        try:
            files.add(inspect.getsourcefile(target) or "")
        except TypeError:  # a C function, like torch's operators
            continue
    return frozenset(files - {""})


@contextmanager
def lines_reached(files: frozenset[str]) -> Iterator[set[tuple[str, int]]]:
    """Collect ``(file, line)`` for every line run in ``files`` while the block runs (local tracing only)."""
    reached: set[tuple[str, int]] = set()
    if not files:  # a trace function costs every call, even one that watches nothing
        yield reached
        return

    def local(frame: FrameType, event: str, arg):
        if event == "line":
            reached.add((frame.f_code.co_filename, frame.f_lineno))
        return local

    def calls(frame: FrameType, event: str, arg):
        return local if frame.f_code.co_filename in files else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        yield reached
    finally:
        sys.settrace(previous)


def digest(reached: set[tuple[str, int]]) -> float:
    text = "\n".join(f"{file}:{line}" for file, line in sorted(reached))
    return float(int(hashlib.sha256(text.encode()).hexdigest(), 16) % 2**DIGEST_BITS)
