"""Forbidden APIs: a call from candidate code raises ``ForbiddenAPIError``; the library's own calls go through."""

from __future__ import annotations

import importlib
import inspect
import sys
from types import FrameType


class ForbiddenAPIError(RuntimeError):
    """Candidate code called an API that the challenge forbids."""


def resolve_owner(dotted: str):
    """'torch.nn.functional.scaled_dot_product_attention' -> (torch.nn.functional module, 'scaled_dot_...')."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:-1]:
            owner = getattr(owner, name)
        return owner, parts[-1]
    raise ValueError(f"cannot resolve forbidden API {dotted!r}")


def guard_forbidden(dotted: str, candidate_dir: str) -> None:
    owner, name = resolve_owner(dotted)
    try:
        raw = inspect.getattr_static(owner, name)
    except AttributeError:  # made on first access, like the operators in torch.ops.aten
        raw = getattr(owner, name)
    wrapper_type = type(raw) if isinstance(raw, (staticmethod, classmethod)) else None
    original = raw.__func__ if wrapper_type else raw

    def guarded(*args, **kwargs):
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename.startswith(candidate_dir):
                raise ForbiddenAPIError(f"{dotted} is forbidden in this challenge: write this part yourself")
            frame = frame.f_back
        return original(*args, **kwargs)

    setattr(owner, name, wrapper_type(guarded) if wrapper_type else guarded)
