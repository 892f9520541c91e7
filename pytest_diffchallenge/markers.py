"""The markers a challenge's tests use, and how each is read (with the metadata's defaults)."""

from __future__ import annotations

import pytest

from pytest_diffchallenge.faults import GraderError
from pytest_diffchallenge.metadata import Challenge
from pytest_diffchallenge.units import parse_size

MARKERS = {
    "points": "points(n): points the test is worth (default 1)",
    "time_limit": "time_limit(seconds): limit for the submission's work in this test",
    "memory_limit": "memory_limit(size=None): peak tensor memory ceiling for submission calls",
    "runtime_budget": "runtime_budget(ratio=None): allowed candidate/reference time ratio",
    "covers": "covers(*ids): the contract items (challenge.toml [[contract]]) the test checks",
}


def register(config: pytest.Config) -> None:
    for line in MARKERS.values():
        config.addinivalue_line("markers", line)


def marker_arg(item: pytest.Item, name: str, default):
    marker = item.get_closest_marker(name)
    if marker is None:
        return default
    return marker.args[0] if marker.args else marker.kwargs.get(next(iter(marker.kwargs), ""), default)


def points(item: pytest.Item) -> float:
    return float(marker_arg(item, "points", 1))


def time_limit(item: pytest.Item, challenge: Challenge) -> float:
    return float(marker_arg(item, "time_limit", challenge.meta.limits.timeout_s))


def memory_ceiling(item: pytest.Item, challenge: Challenge, device: str) -> int | None:
    marker = item.get_closest_marker("memory_limit")
    if marker is None:
        return None
    limits = challenge.meta.limits
    on_gpu = device.startswith("cuda") and limits.cuda_tensor_memory is not None
    size = marker.args[0] if marker.args else limits.cuda_tensor_memory if on_gpu else limits.tensor_memory
    if size is None:
        raise GraderError("memory_limit needs a size, in the marker or as limits.tensor_memory")
    return parse_size(size)


def runtime_budget(item: pytest.Item, challenge: Challenge) -> float:
    budget = marker_arg(item, "runtime_budget", None) or challenge.meta.limits.runtime_ratio
    if budget is None:
        raise GraderError("runtime_budget needs a ratio, in the marker or as limits.runtime_ratio")
    return float(budget)


def covered(item: pytest.Item) -> tuple[str, ...]:
    """The contract items a test covers, from every ``covers`` marker on it (module, class, function)."""
    ids = [str(arg) for marker in item.iter_markers("covers") for arg in marker.args]
    return tuple(dict.fromkeys(ids))


def unknown_items(item: pytest.Item, challenge: Challenge) -> list[str]:
    contract = {entry.id for entry in challenge.meta.contract}
    return [name for name in covered(item) if name not in contract]
