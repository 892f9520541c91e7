"""Trusted sessions forked from a warm interpreter, for batches and ``verify``.

A fork server (``multiprocessing``'s forkserver) imports torch, diffusers, pytest and the plugin once, and
each grading's trusted session is forked from it: still a fresh session with a fresh worker for the
candidate's code, without paying the trusted side's imports every time. The fork server never runs
candidate code and never holds a secret: each session's secret reaches it through its own pipe.

The workers of CPU sessions are forked in turn from a worker template (``pytest_diffchallenge.worker.template``),
started with the first CPU session and stopped by ``stop_all`` or at exit: each worker is still a new process
that has seen nothing of the grader, without paying the worker's imports every time. The sessions find the
template's socket in ``$DIFFCHALLENGE_WORKER_TEMPLATE``; set ``DIFFCHALLENGE_NO_WORKER_TEMPLATE=1`` in the
grader's environment to start every worker as a fresh interpreter instead.

Sessions on a GPU are spawned instead, and so are their workers: importing diffusers asks CUDA for its device
count, and a process forked after that can never use CUDA ("Cannot re-initialize CUDA in forked subprocess").
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path

from diffchallenge.runners.local import RunningSessions
from pytest_diffchallenge.secret import SECRET_FD_VARIABLE
from pytest_diffchallenge.spawning import TEMPLATE_VARIABLE, WorkerTemplate

NO_TEMPLATE_VARIABLE = "DIFFCHALLENGE_NO_WORKER_TEMPLATE"  # "1": fresh workers (benchmarks, a host where forks fail)

# Imported once by the fork server. Missing ones are skipped by multiprocessing, so the list may name
# optional heavy modules that most challenges' probes import.
PRELOAD = ["torch", "diffusers", "transformers", "pytest", "pytest_timeout", "pytest_diffchallenge.plugin",
           "pytest_diffchallenge.checks", "pytest_diffchallenge.recipes",
           "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion", "diffchallenge.runners.forkserver"]


def trusted_session(arguments: list[str], log_path: str, environment: dict[str, str], secret: Connection) -> None:
    """Runs in a process from the fork server (or spawned): one grading session, output to the grader log."""
    # As `python -I` would: nothing from the working directory or the environment decides what is imported.
    sys.path[:] = [entry for entry in sys.path if entry not in ("", os.getcwd())]
    sys.dont_write_bytecode = True  # as `python -B`: a grading writes no .pyc into the kit or the bank
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
    def __init__(self, preload: Sequence[str] = ()) -> None:
        """``preload``: modules to import once in the fork server, besides ``PRELOAD``."""
        super().__init__()
        self.forkserver = multiprocessing.get_context("forkserver")
        self.forkserver.set_forkserver_preload([*PRELOAD, *preload])
        self.use_template = os.environ.get(NO_TEMPLATE_VARIABLE) != "1"
        self.template: WorkerTemplate | None = None
        self.template_lock = threading.Lock()  # sessions start from grade-batch's threads

    def context(self, device: str):
        return self.forkserver if device == "cpu" else multiprocessing.get_context("spawn")

    def start(self, arguments: list[str], environment: dict[str, str], log: Path, secret_fd: int,
              device: str) -> ForkedProcess:
        if device == "cpu" and (template := self.worker_template()) is not None:
            environment = {**environment, TEMPLATE_VARIABLE: str(template.address)}
        # A Connection travels to the child as a duplicated descriptor (SCM_RIGHTS), never as its contents.
        secret = Connection(os.dup(secret_fd), writable=False)
        process = self.context(device).Process(target=trusted_session, daemon=True,
                                               args=(arguments, str(log), environment, secret))
        try:
            process.start()
        finally:
            secret.close()
        return self.track(ForkedProcess(process))

    def worker_template(self) -> WorkerTemplate | None:
        """The running template: started with the first CPU session, and again if it has died."""
        with self.template_lock:
            if not self.use_template:
                return None
            if self.template is not None and not self.template.running:
                self.template.stop()
                self.template = None
            if self.template is None:
                try:
                    self.template = WorkerTemplate()
                except OSError as error:  # e.g. a TMPDIR too long for a socket's path: sessions still grade
                    print(f"diffchallenge: no worker template ({error}); every worker starts as a fresh "
                          f"interpreter", file=sys.stderr)
                    self.use_template = False
            return self.template

    def stop_all(self) -> None:
        super().stop_all()
        with self.template_lock:
            if self.template is not None:
                self.template.stop()
                self.template = None
