"""Measured figures of the test that is running, kept in the trusted process for its result."""

from __future__ import annotations

TENSOR_MEMORY_CEILING = "tensor_memory_ceiling_bytes"

_current: dict[str, float] | None = None


def start_test() -> dict[str, float]:
    global _current
    _current = {}
    return _current


def record(name: str, value: float) -> None:
    if _current is not None:
        _current[name] = value


def record_max(name: str, value: float) -> None:
    if _current is not None:
        _current[name] = max(value, _current.get(name, value))


def current() -> dict[str, float]:
    return dict(_current or {})
