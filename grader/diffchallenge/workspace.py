"""A candidate's workspace: ``diffchallenge start`` makes it, ``diffchallenge test`` runs its public tests.

A workspace holds only what candidates may see: the statement, the starter, the probes, the metadata
and the public tests, all from ``challenges/<slug>/``. Nothing secret (``metadata.is_secret``) is copied.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from diffchallenge.grading import GradeOptions, grade
from diffchallenge.reports import feedback
from pytest_diffchallenge.metadata import METADATA_FILE, Challenge, is_secret, load_challenge
from pytest_diffchallenge.sandboxing import SANDBOX_BEST_EFFORT
from pytest_diffchallenge.verdict import Verdict

RUN_SCRIPT = "run-tests.sh"
RUN_LINE = "diffchallenge test"


class WorkspaceError(ValueError):
    """Bad usage: the folder is not a workspace, or starting one would overwrite work."""


def candidate_files(challenge: Challenge) -> list[Path]:
    """The files a candidate may see; the list names them, so nothing new in the bank leaks by default."""
    files = [challenge.statement, challenge.root / METADATA_FILE, challenge.starter, challenge.probes,
             challenge.public_tests]
    files += [challenge.root / name for name in challenge.meta.edit if (challenge.root / name) not in files]
    return [path for path in files if path.is_file() and not is_secret(path)]


def start(challenge: Challenge, folder: Path) -> list[Path]:
    """Create the workspace ``folder`` for ``challenge``; refuse to overwrite a folder that holds anything."""
    if folder.exists() and any(folder.iterdir()):
        raise WorkspaceError(f"{folder} already exists and is not empty; choose another folder")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in candidate_files(challenge):
        target = folder / source.relative_to(challenge.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    script = folder / RUN_SCRIPT
    script.write_text(f'#!/bin/sh\n# Run the public tests of this workspace.\nexec {RUN_LINE} "$(dirname "$0")"\n')
    script.chmod(0o755)
    return written + [script]


def load_workspace(folder: Path) -> Challenge:
    if not (folder / METADATA_FILE).is_file():
        raise WorkspaceError(f"{folder} is not a workspace (no {METADATA_FILE}); make one with "
                             f"`diffchallenge start SLUG`")
    challenge = load_challenge(folder)
    if not challenge.public_tests.is_file():
        raise WorkspaceError(f"{folder} has no {challenge.public_tests.name}")
    return challenge


def run_public_tests(folder: Path, device: str = "cpu") -> tuple[Verdict, str]:
    """Grade the workspace's solution.py with its own public tests; return the verdict and its feedback."""
    challenge = load_workspace(folder)
    with tempfile.TemporaryDirectory(prefix="diffchallenge-test-") as out:
        # a candidate testing their own code: the sandbox where the kernel has it, no refusal where it does not
        options = GradeOptions(device=device, public_only=True, sandbox=SANDBOX_BEST_EFFORT)
        verdict = grade(challenge, folder, Path(out), options)
    return verdict, feedback.markdown(verdict, challenge.meta.limits)
