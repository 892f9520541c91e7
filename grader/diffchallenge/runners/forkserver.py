"""Trusted sessions forked from a warm interpreter, for batches and ``verify``.

A fork server (``multiprocessing``'s forkserver) imports torch, diffusers, pytest and the plugin once, and
each grading's trusted session is forked from it: still a fresh session with a fresh worker for the
candidate's code, without paying the trusted side's imports every time. The fork server never runs
candidate code and never holds a secret: each session's secret reaches it through its own pipe.

Sessions on a GPU are spawned instead: importing diffusers asks CUDA for its device count, and a process
forked after that can never use CUDA ("Cannot re-initialize CUDA in forked subprocess").
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path

from diffchallenge.runners.local import RunningSessions
from pytest_diffchallenge.secret import SECRET_FD_VARIABLE

# Imported once by the fork server. Missing ones are skipped by multiprocessing, so the list may name
# optional heavy modules that most challenges' probes import.
PRELOAD = ["torch", "diffusers", "transformers", "pytest", "pytest_timeout", "pytest_diffchallenge.plugin",
           "pytest_diffchallenge.checks", "pytest_diffchallenge.recipes",
           "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion", "diffchallenge.runners.forkserver"]


def trusted_session(arguments: list[str], log_path: str, environment: dict[str, str], secret: Connection) -> None:
    """Runs in a process from the fork server (or spawned): one grading session, output to the grader log."""
    # As `python -I` would: nothing from the working directory or the environment decides what is imported.
    sys.path[:] = [entry for entry in sys.path if entry not in ("", os.getcwd())]
    os.environ.clear()
    os.environ.update(environment)
    tempfile.tempdir = None  # the fork server's cached choice would ignore this session's TMPDIR
    os.environ[SECRET_FD_VARIABLE] = str(os.dup(secret.fileno()))
    secret.close()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    import pytest

    sys.exit(int(pytest.main(arguments)))


class ForkedProcess:
    def __init__(self, process):
        self.process = process
        self.pid: int = process.pid

    def wait(self, timeout: float) -> int | None:
        self.process.join(timeout)
        return self.process.exitcode

    @property
    def running(self) -> bool:
        return self.process.exitcode is None


class ForkServer(RunningSessions):
    def __init__(self) -> None:
        super().__init__()
        self.forkserver = multiprocessing.get_context("forkserver")
        self.forkserver.set_forkserver_preload(PRELOAD)

    def context(self, device: str):
        return self.forkserver if device == "cpu" else multiprocessing.get_context("spawn")

    def start(self, arguments: list[str], environment: dict[str, str], log: Path, secret_fd: int,
              device: str) -> ForkedProcess:
        # A Connection travels to the child as a duplicated descriptor (SCM_RIGHTS), never as its contents.
        secret = Connection(os.dup(secret_fd), writable=False)
        process = self.context(device).Process(target=trusted_session, daemon=True,
                                               args=(arguments, str(log), environment, secret))
        try:
            process.start()
        finally:
            secret.close()
        return self.track(ForkedProcess(process))
