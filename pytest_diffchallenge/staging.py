"""Copying a submission to where a worker reads it: regular files only, no links out, bounded in size."""

from __future__ import annotations

import shutil
from pathlib import Path

MAX_SUBMISSION_BYTES = 10 * 1024**2


def copy_submission(source: Path, target: Path) -> None:
    """Copy regular files only: no symlinks out of the folder, nothing huge."""
    total = 0
    for path in sorted(source.rglob("*")):
        if path.is_symlink() or not path.is_file() or "__pycache__" in path.parts:
            continue
        total += path.stat().st_size
        if total > MAX_SUBMISSION_BYTES:
            raise ValueError(f"submission is larger than {MAX_SUBMISSION_BYTES} bytes")
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
