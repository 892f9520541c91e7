"""Trusted sessions as fresh interpreters: ``python -I -B -m pytest``, started from a folder nothing else writes.

``-I`` ignores $PYTHONDONTWRITEBYTECODE, so ``-B`` says it again: a grading writes no ``.pyc`` into the kit or
the bank."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from pytest_diffchallenge.processes import kill_tree
from pytest_diffchallenge.secret import SECRET_FD_VARIABLE

SESSION_CWD = "/"  # with -I the working directory is not on sys.path either way


class FreshProcess:
    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.pid = process.pid

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    @property
    def running(self) -> bool:
        return self.process.poll() is None


class RunningSessions:
    """The sessions a launcher started, so that an interrupted batch can kill those still running."""

    def __init__(self) -> None:
        self.sessions: set = set()
        self.lock = threading.Lock()

    def track(self, session):
        with self.lock:
            self.sessions = {s for s in self.sessions if s.running} | {session}
        return session

    def stop_all(self) -> None:
        with self.lock:
            running = [s for s in self.sessions if s.running]
        for session in running:
            kill_tree(session.pid)


class FreshProcesses(RunningSessions):
    """Each session a new ``python -I -m pytest``: the slowest start, the least shared state."""

    def start(self, arguments: list[str], environment: dict[str, str], log: Path, secret_fd: int,
              device: str) -> FreshProcess:
        with open(log, "wb") as output:
            process = subprocess.Popen([sys.executable, "-I", "-B", "-m", "pytest", *arguments], cwd=SESSION_CWD,
                                       env={**environment, SECRET_FD_VARIABLE: str(secret_fd)},
                                       stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                       pass_fds=(secret_fd,))
        return self.track(FreshProcess(process))

