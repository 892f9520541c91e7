"""The worker client: the trusted side of a worker. Spawn it, send it requests, enforce time and memory.

Every way a worker can go wrong becomes a ``SubmissionFault``, an AssertionError, so the test it happened
in fails with a message that says what happened. Nothing the worker sends is executed or unpickled.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_diffchallenge import wire
from pytest_diffchallenge.artifacts import MAX_BYTES, checked_timeline
from pytest_diffchallenge.cgroups import WorkerGroup
from pytest_diffchallenge.faults import (
    BadReply,
    GraderError,
    MalformedReply,
    SubmissionMemoryExceeded,
    SubmissionRaised,
    SubmissionTimedOut,
    WorkerDied,
    WorkerStartFailed,
)
from pytest_diffchallenge.processes import (
    children,
    cpu_seconds,
    kill_children,
    kill_tree,
    reset_high_water_mark,
    resident_bytes,
)
from pytest_diffchallenge.sandboxing import SANDBOX_BEST_EFFORT, SANDBOX_OFF, checked_layers, require, worker_request
from pytest_diffchallenge.spawning import WorkerProcess, spawn_worker  # the worker template's fork, or Popen
from pytest_diffchallenge.staging import copy_submission
from pytest_diffchallenge.units import format_size
from pytest_diffchallenge.users import worker_user

STARTUP_SECONDS = 120
TIMEOUTS_BEFORE_GIVING_UP = 2
# Time limits count the worker's CPU time (limit x threads), which load on the machine does not inflate;
# wall time is only a backstop, for submissions that sleep or block.
WALL_FACTOR = 4  # a hanging submission costs at most this many time limits per session
POLL_SECONDS = 0.05
LOG_TAIL_CHARS = 1500
MAX_PROCESSES = 256  # threads included: a cgroup's pids.max counts every task
# The cgroup's hard limit sits above worker_memory, which the polling below enforces with a clearer message.
GROUP_MEMORY_MARGIN = 512 * 1024**2


class WorkerClient:
    """One worker process running one solution (the candidate's, or the reference for timing)."""

    live_pids: set[int] = set()

    def __init__(self, *, solution_dir: Path, probes: Path, forbidden: list[str], device: str = "cpu",
                 threads: int = 1, memory_limit: int = 0, label: str = "submission", scratch: Path | None = None,
                 sandbox: str = SANDBOX_BEST_EFFORT):
        self.solution_dir = Path(solution_dir)
        self.scratch = scratch  # the grading's own temporary folder, removed by the grader whatever happens
        self.probes = Path(probes)
        self.forbidden = forbidden
        self.device = device
        self.threads = threads
        self.memory_limit = memory_limit
        self.label = label
        self.sandbox = sandbox
        self.sandbox_layers: dict[str, str] = {}  # as the worker reported them before any candidate code ran
        self.time_limit: float | None = None
        self.test_cpu = 0.0
        self.wall_deadline: float | None = None
        self.process: WorkerProcess | None = None
        self.older_children: set[int] = set()  # e.g. multiprocessing's fork server: not this worker's orphans
        self.workdir: Path | None = None
        self.peak_rss = 0
        self.group: WorkerGroup | None = None
        self.group_state = ""
        self.oom_killed = False
        self.refused: GraderError | None = None
        self.resident_growth = 0  # of the last measured run, read from /proc: beyond the candidate's reach
        self.timeouts = 0
        self.ready = False

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """Launch the worker (unless launched already) and wait until it is ready for requests."""
        if self.refused is not None:
            raise self.refused
        if not self.alive:
            self.launch()
        if not self.ready:
            try:
                ready = self._receive("start", wall_deadline=time.monotonic() + STARTUP_SECONDS)
            except (SubmissionTimedOut, WorkerDied, MalformedReply) as fault:
                raise WorkerStartFailed(f"the {self.label}'s worker could not start: {fault}") from None
            try:
                self.sandbox_layers = checked_layers(self.sandbox, ready.get("sandbox"))
                if self.sandbox != SANDBOX_OFF:
                    self.sandbox_layers["cgroup"] = self.group_state
                require(self.sandbox, self.sandbox_layers)
            except GraderError as error:
                self._kill()
                self.refused = error  # the same machine, the same answer: no second worker is started
                raise
            self.ready = True

    def launch(self) -> None:
        """Spawn the worker without waiting: its imports then overlap with the grader's own."""
        if self.alive:
            return
        self.ready = False
        self.workdir = Path(tempfile.mkdtemp(prefix="diffchallenge-worker-", dir=self.scratch))
        submission = self.workdir / "submission"
        submission.mkdir()
        copy_submission(self.solution_dir, submission)
        run_as = worker_user(self.label, self.workdir)
        worker_read, client_write = os.pipe()
        client_read, worker_write = os.pipe()
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.workdir), "TMPDIR": str(self.workdir),
               "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
               "OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads),
               "HF_HUB_OFFLINE": "1", "HF_HOME": str(self.workdir / "hf"), "TRANSFORMERS_VERBOSITY": "error",
               "DIFFUSERS_VERBOSITY": "error", "TQDM_DISABLE": "1"}
        for name in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):  # where the GPU driver is found
            if name in os.environ:
                env[name] = os.environ[name]
        address_space = max(4 * self.memory_limit, 16 * 1024**3) if self.memory_limit else 0
        if self.device.startswith("cuda"):
            address_space = 0  # the CUDA runtime reserves vast virtual ranges
        command = [sys.executable, "-I", "-m", "pytest_diffchallenge.worker",
                   "--submission", str(submission), "--probes", str(self.probes),
                   "--forbidden", json.dumps(self.forbidden), "--device", self.device,
                   "--threads", str(self.threads), "--read-fd", str(worker_read), "--write-fd", str(worker_write),
                   "--address-space", str(address_space), "--max-processes", str(MAX_PROCESSES),
                   "--sandbox", worker_request(self.sandbox)]
        self.older_children = children()
        self.group, self.group_state = WorkerGroup.create(
            f"worker-{os.getpid()}-{secrets.token_hex(4)}", max_processes=MAX_PROCESSES,
            memory_limit=self.memory_limit + GROUP_MEMORY_MARGIN if self.memory_limit else 0)
        self.process = spawn_worker(command, cwd=self.workdir, env=env, log_path=self.workdir / "worker.log",
                                    pass_fds=(worker_read, worker_write), user_kwargs=run_as)
        os.close(worker_read)
        os.close(worker_write)
        if self.group is not None:  # before the first request, so before any candidate code runs
            self.group.add(self.process.pid)
        self.inbox, self.outbox = client_read, client_write
        WorkerClient.live_pids.add(self.process.pid)
        self.peak_rss = 0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def folder(self) -> Path:
        """The worker's own folder (its cwd and TMPDIR, the one place it may write), starting the worker if need be."""
        if not self.alive:
            self.start()
        assert self.workdir is not None  # launched
        return self.workdir

    def begin_test(self, time_limit: float) -> None:
        """Start the time budget of a test: ``time_limit`` seconds of work at full speed."""
        self.time_limit, self.test_cpu = time_limit, 0.0
        self.wall_deadline = time.monotonic() + time_limit * WALL_FACTOR

    def stop(self) -> None:
        if self.process is None:
            return
        if self.alive:
            try:
                os.write(self.outbox, wire.encode({"op": "exit"}))
                self.process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def _kill(self) -> None:
        if self.process is None:
            return
        if self.group is not None:
            self.oom_killed = self.group.oom_killed()
            self.group.remove()  # every process in it, however many it forked, in one go
            self.group = None
        kill_tree(self.process.pid)
        self.process.wait()
        WorkerClient.live_pids.discard(self.process.pid)
        # The worker's descendants that were re-parented to this session (a subreaper).
        kill_children(self.older_children | WorkerClient.live_pids)
        for fd in (self.inbox, self.outbox):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log_tail = self._log_tail()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.process = None

    def _log_tail(self) -> str:
        """The end of the worker's output, read from the end: the log may be huge, or sparse."""
        if self.workdir is None:
            return ""
        try:
            with open(self.workdir / "worker.log", "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - LOG_TAIL_CHARS))
                text = log.read(LOG_TAIL_CHARS).decode("utf-8", "replace")
        except OSError:
            return ""
        return text.strip()

    # -- requests ----------------------------------------------------------------------------------------
    def prepare(self, probe: str, **kwargs) -> int:
        return self._request({"op": "prepare", "probe": probe, "kwargs": kwargs})["handle"]

    def run(self, handle: int, *, measure_memory: bool = False) -> dict:
        """Run a prepared probe once and release it. Every run, checked or timed, is the same request."""
        return self._request({"op": "run", "handle": handle, "measure_memory": measure_memory})

    def call(self, probe: str, *, measure_memory: bool = False, **kwargs) -> Reply:
        """Run a probe once; its result comes back as a ``Reply`` (dict access that fails the test if absent)."""
        return self.reply(probe, self.run(self.prepare(probe, **kwargs), measure_memory=measure_memory))

    @staticmethod
    def reply(probe: str, reply: dict) -> Reply:
        return Reply(reply.get("result"), peak_bytes=reply.get("peak_bytes"), timeline=reply.get("timeline"),
                     probe=probe)

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"the {self.label}'s worker is not running")
        return self.process.pid

    def _request(self, request: dict) -> dict:
        if self.timeouts >= TIMEOUTS_BEFORE_GIVING_UP:
            raise SubmissionTimedOut(f"not run: the {self.label} already timed out in {self.timeouts} tests")
        if not (self.alive and self.ready):
            self.start()
        reset_high_water_mark(self.pid)
        resident_at_start = resident_bytes(self.pid)
        cpu_at_start = cpu_seconds(self.pid)
        try:
            os.write(self.outbox, wire.encode(request))
        except OSError:
            self._died("while receiving a request")
        reply = self._receive(request.get("probe", request["op"]), wall_deadline=self.wall_deadline,
                              cpu_at_start=cpu_at_start)
        self.test_cpu += cpu_seconds(self.pid) - cpu_at_start
        # Polling can miss a short spike; the kernel's high-water mark cannot (it swings 15-50%: a coarse guard).
        high_water_mark = resident_bytes(self.pid, "VmHWM")
        self._check_resident(high_water_mark)
        if request.get("measure_memory"):
            # The worker's own high-water mark, not its cgroup's peak: that one counts the page cache of what it
            # writes (its log) too. Under seccomp the worker has no children whose memory this would miss.
            self.resident_growth = max(0, high_water_mark - resident_at_start)
        if not reply.get("ok"):
            error = reply.get("error")
            raise SubmissionRaised(error if isinstance(error, dict) else {"type": "?", "message": str(error)})
        return reply

    def _receive(self, what: str, *, wall_deadline: float | None, cpu_at_start: float | None = None) -> dict:
        buffer = bytearray()
        needed = wire.HEADER.size
        header = None
        while len(buffer) < needed:
            over_wall = wall_deadline is not None and time.monotonic() >= wall_deadline
            over_cpu = cpu_at_start is not None and self.time_limit is not None and \
                self.test_cpu + cpu_seconds(self.pid) - cpu_at_start > self.time_limit * self.threads
            if over_wall or over_cpu:
                self._kill()
                if what == "start":
                    raise SubmissionTimedOut(f"the worker did not start within {STARTUP_SECONDS} s")
                self.timeouts += 1
                raise SubmissionTimedOut(f"the {self.label} did not finish {what!r} within the {self.time_limit:g} s "
                                         f"time limit ({'CPU' if over_cpu else 'wall-clock'} time); "
                                         f"its worker was stopped")
            self._check_resident(resident_bytes(self.pid))
            ready, _, _ = select.select([self.inbox], [], [], POLL_SECONDS)
            if not ready:
                continue
            chunk = os.read(self.inbox, min(1 << 20, needed - len(buffer)))
            if not chunk:
                self._died(f"during {what!r}")
            buffer += chunk
            if header is None and len(buffer) == wire.HEADER.size:
                header = wire.HEADER.unpack(bytes(buffer))
                if sum(header) > wire.MAX_FRAME_BYTES:
                    self._kill()
                    raise MalformedReply(f"the {self.label} sent a reply of {sum(header)} bytes, over the limit")
                needed += sum(header)
        assert header is not None  # the loop reads the header before anything else
        text_len, _ = header
        body = bytes(buffer[wire.HEADER.size:])
        try:
            reply = wire.decode(body[:text_len], body[text_len:])
        except wire.WireError as error:
            self._kill()
            raise MalformedReply(f"the {self.label}'s worker sent malformed data: {error}") from None
        if not isinstance(reply, dict):
            self._kill()
            raise MalformedReply(f"the {self.label}'s worker sent a reply that is not an object")
        return reply

    def _check_resident(self, rss: int) -> None:
        self.peak_rss = max(self.peak_rss, rss)
        if self.memory_limit and rss > self.memory_limit:
            self._kill()
            raise SubmissionMemoryExceeded(
                f"the {self.label}'s worker used {format_size(rss)} of resident memory, over its "
                f"{format_size(self.memory_limit)} limit, and was stopped")

    def _died(self, when: str):
        if self.process is None:
            raise WorkerDied(f"the {self.label}'s worker is gone {when}")
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:  # it closed the channel but lives on
            code = None
        self._kill()
        if self.oom_killed:
            raise SubmissionMemoryExceeded(f"the {self.label}'s worker was killed by the kernel at its memory limit "
                                           f"of {format_size(self.memory_limit + GROUP_MEMORY_MARGIN)} {when}")
        if code is None:
            how = "closed its channel"
        elif code < 0:
            how = f"was killed by signal {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code}"
        tail = f"\nits last output:\n{self.log_tail}" if self.log_tail else ""
        raise WorkerDied(f"the {self.label}'s worker {how} {when}{tail}")


class Reply(dict):
    """A probe's result. A missing key fails the test (the submission returned bad data), it is not an error."""

    def __init__(self, result, *, peak_bytes, probe: str, timeline=None):
        if not isinstance(result, dict):
            raise BadReply(f"probe {probe!r} returned {type(result).__name__}, not a mapping of results")
        # A figure from the worker is data like any other: a whole number of bytes, or the reply is refused.
        if peak_bytes is not None and (type(peak_bytes) is not int or not 0 <= peak_bytes <= MAX_BYTES):
            raise MalformedReply(f"probe {probe!r}: the worker reported a peak of {peak_bytes!r} bytes")
        # The memory timeline comes with a peak, and only then; it is drawn, never graded, but checked all the same.
        self.timeline_samples: tuple[tuple[float, float], ...] = ()
        self.timeline_phases: tuple[tuple[float, str], ...] = ()
        if (timeline is None) != (peak_bytes is None):
            raise MalformedReply(f"probe {probe!r}: the worker's reply has a peak without a memory timeline, or the "
                                 f"reverse")
        if timeline is not None:
            if not isinstance(timeline, dict) or set(timeline) != {"samples", "phases"}:
                raise MalformedReply(f"probe {probe!r}: the worker's memory timeline is not {{samples, phases}}")
            try:
                self.timeline_samples, self.timeline_phases = checked_timeline(timeline["samples"], timeline["phases"])
            except ValueError as error:
                raise MalformedReply(f"probe {probe!r}: the worker sent a malformed memory timeline: {error}") \
                    from None
        super().__init__(result)
        self.peak_bytes = peak_bytes
        self.probe = probe

    def __missing__(self, key):
        raise BadReply(f"probe {self.probe!r} returned no {key!r}")
