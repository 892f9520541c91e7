"""How a worker process starts: forked by the worker template when there is one, else a fresh interpreter.

``spawn_worker`` is what ``WorkerClient.launch`` calls. When ``$DIFFCHALLENGE_WORKER_TEMPLATE`` names a
template's socket (the fork server sets it for CPU sessions), the template forks the worker, saving the seconds
a fresh interpreter spends importing torch and diffusers; the result has Popen's ``pid``, ``poll``, ``wait``
and ``returncode``. Without a template, or when it is gone, refuses or does not answer in time, the worker is a
fresh ``subprocess.Popen``, as before. No call here blocks for ever on the template. Killing needs no template:
``processes.kill_tree`` works on any pid; only waiting goes through it, as it is the worker's parent.

``WorkerTemplate`` is the grader's handle on a running template (``runners.forkserver`` starts one): its 0700
folder with the socket, the process, and the lifeline that tells it when the grader is gone. What makes the
template safe is in ``pytest_diffchallenge.worker.template``.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from pytest_diffchallenge.processes import kill_tree
from pytest_diffchallenge.worker.template import MAX_MESSAGE_BYTES

TEMPLATE_VARIABLE = "DIFFCHALLENGE_WORKER_TEMPLATE"
# The template may still be importing when the first sessions ask, a few seconds on a loaded machine.
ANSWER_TIMEOUT_S = 60
POLL_S = 0.1
REAP_GRACE_S = 10  # a worker dead this long with no word from its template: the template is stuck
TEMPLATE_LOST = -signal.SIGKILL  # what a template's death does to its workers (their parent-death signal)
# What client.py gives every worker, less the per-worker folders: the libraries the template preloads read it
# when imported. One thread, so that OpenBLAS starts no pool in the template (each worker sets its own count),
# and no GPU, so that no CUDA driver (nor its threads) starts in it: it forks CPU workers only.
TEMPLATE_ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
                        "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "DIFFUSERS_VERBOSITY": "error",
                        "TQDM_DISABLE": "1", "CUDA_VISIBLE_DEVICES": ""}


class WorkerProcess(Protocol):
    """What client.py uses of a worker's process: a ``subprocess.Popen`` or a ``ForkedWorker``."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def spawn_worker(command: list[str], *, cwd: Path, env: dict[str, str], log_path: Path, pass_fds: Sequence[int],
                 user_kwargs: dict) -> WorkerProcess:
    """Start ``command`` (``python -I -m pytest_diffchallenge.worker ...``) in a new session, output to the log."""
    with open(log_path, "wb") as log:
        address = os.environ.get(TEMPLATE_VARIABLE)
        if address:
            request = {"argv": command, "cwd": str(cwd), "env": env, "pass_fds": list(pass_fds),
                       "user": user_kwargs}
            forked = fork_from_template(address, request, [log.fileno(), *pass_fds])
            if forked is not None:
                return forked
        return subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, pass_fds=pass_fds, **user_kwargs)


def fork_from_template(address: str, request: dict, fds: list[int]) -> ForkedWorker | None:
    """The worker the template forked, or None if it started none (gone, refused, or silent)."""
    asked = ask_template(address, request, fds)
    if asked is None:
        return None
    connection, reply = asked
    pid = reply.get("pid")
    if type(pid) is not int or pid <= 0:
        connection.close()
        return None
    return ForkedWorker(connection, pid, request["argv"])


def ask_template(address: str, request: dict, fds: list[int]) -> tuple[socket.socket, dict] | None:
    """Send one request; the connection and the template's first reply, or None if there was none."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    connection.settimeout(ANSWER_TIMEOUT_S)
    try:
        connection.connect(address)
        socket.send_fds(connection, [json.dumps(request).encode()], fds)
        message = connection.recv(MAX_MESSAGE_BYTES)
    except TimeoutError:
        message = last_word(connection)
    except OSError:
        message = b""
    try:
        reply = json.loads(message) if message else None
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        connection.close()
        return None
    return connection, reply


def last_word(connection: socket.socket) -> bytes:
    """After a time-out: stop reading, so that the template can no longer tell a pid, then read what it told.

    A child is let go only once its pid is sent, so a reply not sent by now starts no worker: the session may
    start a fresh one on the same pipes without two workers answering on them.
    """
    try:
        connection.shutdown(socket.SHUT_RD)
        connection.setblocking(False)
        return connection.recv(MAX_MESSAGE_BYTES)
    except OSError:
        return b""


class ForkedWorker:
    """A worker forked by the template: the template is its parent and reaps it, and sends its exit status."""

    def __init__(self, connection: socket.socket, pid: int, args: list[str]):
        self.connection = connection
        self.pid = pid
        self.args = args
        self.returncode: int | None = None
        self.dead_since: float | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._receive(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (math.inf if timeout is None else timeout)
        while self.returncode is None:
            self._receive(max(0.0, min(POLL_S, deadline - time.monotonic())))
            if self.returncode is None and timeout is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def _receive(self, timeout: float) -> None:
        ready, _, _ = select.select([self.connection], [], [], timeout)
        if ready:
            self._ended(self._status())
        elif self._template_stuck():
            self._ended(TEMPLATE_LOST)

    def _status(self) -> int:
        try:
            reply = json.loads(self.connection.recv(MAX_MESSAGE_BYTES) or b"null")
        except (OSError, ValueError):
            reply = None
        returncode = reply.get("returncode") if isinstance(reply, dict) else None
        return returncode if type(returncode) is int else TEMPLATE_LOST  # closed: the template is gone

    def _template_stuck(self) -> bool:
        """True once the worker has been dead (a zombie, or gone) for REAP_GRACE_S with no word from its template."""
        try:
            with open(f"/proc/{self.pid}/stat") as stat:
                ended = stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except (OSError, IndexError):
            ended = True
        if not ended:
            return False
        self.dead_since = self.dead_since or time.monotonic()
        return time.monotonic() - self.dead_since > REAP_GRACE_S

    def _ended(self, returncode: int) -> None:
        self.returncode = returncode
        self.connection.close()


class WorkerTemplate:
    """A running template, owned by the grader: started here, stopped by ``stop`` or at exit."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="diffchallenge-template-"))  # 0700, the grader's
        self.address = self.folder / "socket"
        # The grader keeps the write end, never inherited by anything it starts: EOF tells the template it is gone.
        lifeline, self.lifeline = os.pipe()
        try:
            # Bound here, so that sessions can connect at once: they wait in the backlog while it imports.
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as listener, \
                    open(self.folder / "template.log", "wb") as log:
                listener.bind(str(self.address))
                listener.listen(64)
                self.process = subprocess.Popen(
                    [sys.executable, "-I", "-m", "pytest_diffchallenge.worker.template",
                     "--listen-fd", str(listener.fileno()), "--lifeline-fd", str(lifeline)],
                    cwd=self.folder, env=self.environment(), stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True, pass_fds=(listener.fileno(), lifeline))
        except BaseException:
            os.close(self.lifeline)
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        finally:
            os.close(lifeline)
        atexit.register(self.stop)

    def environment(self) -> dict[str, str]:
        paths = {"HOME": str(self.folder), "TMPDIR": str(self.folder), "HF_HOME": str(self.folder / "hf")}
        library_path = {"LD_LIBRARY_PATH": os.environ["LD_LIBRARY_PATH"]} if "LD_LIBRARY_PATH" in os.environ else {}
        return TEMPLATE_ENVIRONMENT | paths | library_path

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Kill the template and every worker it forked, and remove its folder."""
        atexit.unregister(self.stop)
        if self.process.poll() is None:  # once reaped, its pid may be another process's
            kill_tree(self.process.pid)
            self.process.wait()
        if self.lifeline >= 0:
            os.close(self.lifeline)
            self.lifeline = -1
        shutil.rmtree(self.folder, ignore_errors=True)
