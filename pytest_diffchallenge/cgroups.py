"""One cgroup per worker: a memory limit, a process limit that binds root too, and a kill nothing outruns.

The trusted side makes the group before it spawns the worker; the worker never imports this module.
Where groups live:

- cgroup v2 (unified at /sys/fs/cgroup): ``<base>/diffchallenge/<name>``, where ``<base>`` is the root of
  the hierarchy if this process may write there (root), else its own cgroup when systemd delegated it
  (``systemd-run --user --scope -p Delegate=yes ...``).
- cgroup v1, or the hybrid layout whose cgroup2 mount carries no controller: one folder per controller,
  ``/sys/fs/cgroup/{memory,pids,freezer}/diffchallenge/<name>``; root only.

The ``diffchallenge`` folders are shared by concurrent graders and stay; each group's own folders go.

Joining: ``create()`` opens the group's ``cgroup.procs`` files (one per hierarchy) close-on-exec, and
``preexec()``, run in the child between fork and exec, writes "0" (the writing process) to them. They are
opened here because the kernel checks the credentials of whoever opened the file: a child that Popen's
``user=`` has already switched to the worker's user (that happens before ``preexec_fn``) still joins.
The files stay open until ``remove()``.
"""

from __future__ import annotations

import abc
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")
PARENT = "diffchallenge"
SUPERVISOR = "diffchallenge-supervisor"  # the leaf a delegated grader moves into: see _make_room_for_controllers
V1_CONTROLLERS = ("memory", "pids", "freezer")
V2_CONTROLLERS = ("memory", "pids")
DELEGATION_HINT = ("a user other than root gets cgroups from systemd: run the grader under "
                   "`systemd-run --user --scope -p Delegate=yes -- ...` on a cgroup v2 system")
KILL_SECONDS = 5.0  # kill_all gives up after this long: a process stuck in the kernel can outlast SIGKILL
FREEZE_SECONDS = 1.0


class _Missing(Exception):
    """Why this machine offers no cgroup for a worker, in plain words."""


class WorkerGroup(abc.ABC):
    """A cgroup holding one worker and everything it starts; made by ``create()``, undone by ``remove()``."""

    held: str  # what create() reports when it succeeds
    oom_counters_file: str

    def __init__(self, memory_dir: Path) -> None:
        self.memory_dir = memory_dir
        self.directories: list[Path] = []  # the group's folders made so far, one per hierarchy
        self._procs_fds: list[int] = []

    @classmethod
    def create(cls, name: str, *, memory_limit: int, max_processes: int, root: Path = CGROUP_ROOT,
               self_cgroup: Path = SELF_CGROUP) -> tuple[WorkerGroup | None, str]:
        """A fresh cgroup for one worker: ``memory_limit`` in bytes and ``max_processes`` (0 = no limit).

        Returns (group, "held: ...") or (None, "missing: <why>"). ``root`` and ``self_cgroup`` (this
        process's /proc/self/cgroup) are there for tests, which build fake trees.
        """
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"a cgroup name is one folder name, not {name!r}")
        group: WorkerGroup | None = None
        try:
            if (root / "cgroup.controllers").exists():
                group = _V2Group(_v2_parent(root, self_cgroup) / name)
            else:
                group = _V1Group({controller: parent / name for controller, parent in _v1_parents(root).items()})
            group._set_up(memory_limit, max_processes)
        except _Missing as missing:
            return None, f"missing: {missing}"
        except OSError as error:
            if group is not None:
                group.remove()
            return None, f"missing: cannot set up a cgroup ({error})"
        return group, group.held

    @abc.abstractmethod
    def _set_up(self, memory_limit: int, max_processes: int) -> None:
        """Make the group's folders, set its limits and open its cgroup.procs files."""

    def _make(self, directory: Path) -> None:
        directory.mkdir()  # a name already taken fails here, so another worker's group is never touched
        self.directories.append(directory)

    def _open_procs_files(self) -> None:
        self._procs_fds = [os.open(directory / "cgroup.procs", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC)
                           for directory in self.directories]

    def preexec(self) -> None:
        """Join the group: subprocess's ``preexec_fn``, run in the child between fork and exec.

        It only writes to files create() opened: little can safely run between fork and exec.
        """
        for fd in self._procs_fds:
            os.pwrite(fd, b"0", 0)

    def add(self, pid: int) -> None:
        """Move a process started elsewhere into the group."""
        for fd in self._procs_fds:
            os.pwrite(fd, str(pid).encode(), 0)

    def pids(self) -> list[int]:
        """Every process in the group."""
        return sorted({pid for directory in self.directories for pid in _pids_in(directory)})

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the group for going over its memory limit."""
        return _counters(self.memory_dir / self.oom_counters_file).get("oom_kill", 0) > 0

    def kill_all(self) -> None:
        """Kill every process in the group and wait until it is empty; give up after about KILL_SECONDS."""
        deadline = time.monotonic() + KILL_SECONDS
        while self.pids() and time.monotonic() < deadline:
            self._kill_everything()
            _wait_until(lambda: not self.pids(), seconds=0.5)

    @abc.abstractmethod
    def _kill_everything(self) -> None:
        """One attempt at killing every process of the group, in a way a process that forks cannot outrun."""

    def remove(self) -> None:
        """Kill everything in the group, then delete its folders. Never raises: it runs in clean-up paths."""
        with contextlib.suppress(OSError, ValueError):
            self.kill_all()
        for fd in self._procs_fds:
            os.close(fd)
        self._procs_fds = []
        remaining = []
        for directory in self.directories:
            try:
                directory.rmdir()  # on cgroupfs a folder goes with its files, once no process is left
            except FileNotFoundError:
                pass
            except OSError:
                remaining.append(directory)
        self.directories = remaining


class _V1Group(WorkerGroup):
    held = "held: cgroup v1 memory+pids+freezer"
    oom_counters_file = "memory.oom_control"

    def __init__(self, directories: dict[str, Path]) -> None:
        super().__init__(directories["memory"])
        self.pids_dir = directories["pids"]
        self.freezer_dir = directories["freezer"]

    def _set_up(self, memory_limit: int, max_processes: int) -> None:
        for directory in (self.memory_dir, self.pids_dir, self.freezer_dir):
            self._make(directory)
        if memory_limit:
            _write(self.memory_dir / "memory.limit_in_bytes", memory_limit)
            # memory+swap at the same limit, so the worker cannot swap past it; the file exists only where the
            # kernel accounts swap, and must not be below memory.limit_in_bytes, hence second
            if (self.memory_dir.parent / "memory.memsw.limit_in_bytes").exists():
                _write(self.memory_dir / "memory.memsw.limit_in_bytes", memory_limit)
        if max_processes:
            _write(self.pids_dir / "pids.max", max_processes)
        self._open_procs_files()

    def _kill_everything(self) -> None:
        """Frozen processes cannot fork, so the pids listed are all there are; each dies once thawed."""
        state = self.freezer_dir / "freezer.state"
        _write(state, "FROZEN")
        _wait_until(lambda: _read(state).strip() == "FROZEN", seconds=FREEZE_SECONDS)  # FREEZING meanwhile
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _write(state, "THAWED")


class _V2Group(WorkerGroup):
    held = "held: cgroup v2 memory+pids"
    oom_counters_file = "memory.events"

    def _set_up(self, memory_limit: int, max_processes: int) -> None:
        self._make(self.memory_dir)
        if memory_limit:
            _write(self.memory_dir / "memory.max", memory_limit)
            if (self.memory_dir.parent / "memory.swap.max").exists():  # only where the kernel accounts swap
                _write(self.memory_dir / "memory.swap.max", 0)
        if max_processes:
            _write(self.memory_dir / "pids.max", max_processes)
        self._open_procs_files()

    def _kill_everything(self) -> None:
        _write(self.memory_dir / "cgroup.kill", 1)  # the kernel kills them all and fails their forks meanwhile


def _v1_parents(root: Path) -> dict[str, Path]:
    """The ``diffchallenge`` folder of each v1 hierarchy a group needs, made if new."""
    hierarchies = {controller: root / controller for controller in V1_CONTROLLERS}
    absent = [controller for controller, hierarchy in hierarchies.items() if not (hierarchy / "cgroup.procs").exists()]
    if absent == list(V1_CONTROLLERS):
        raise _Missing(f"no cgroup filesystem at {root}: neither cgroup v2 nor the v1 controllers "
                       f"{', '.join(V1_CONTROLLERS)} are mounted there")
    if absent:
        raise _Missing(f"cgroup v1 at {root} has no {' or '.join(absent)} controller mounted, which a worker's "
                       f"group needs")
    if not all(_writable(hierarchy) for hierarchy in hierarchies.values()):
        raise _Missing(f"cgroup v1 at {root} is writable only by root; {DELEGATION_HINT}")
    parents = {controller: hierarchy / PARENT for controller, hierarchy in hierarchies.items()}
    for parent in parents.values():
        parent.mkdir(exist_ok=True)
    return parents


def _v2_parent(root: Path, self_cgroup: Path) -> Path:
    """``<base>/diffchallenge``, made if new, with the memory and pids controllers on for its children."""
    base = root if _writable(root) else _own_cgroup(root, self_cgroup)
    if not _writable(base):
        raise _Missing(f"cgroup v2 at {root} is not writable by this user, and this process's own cgroup "
                       f"{base} is not delegated to it; {DELEGATION_HINT}")
    offered = _read(base / "cgroup.controllers").split()
    if not set(V2_CONTROLLERS) <= set(offered):
        raise _Missing(f"cgroup v2 at {base} offers the controllers {' '.join(offered) or 'none'}, "
                       f"not both memory and pids")
    if base != root:
        _make_room_for_controllers(base)
    _enable_controllers(base)
    parent = base / PARENT
    parent.mkdir(exist_ok=True)
    _enable_controllers(parent)
    if not (parent / "cgroup.kill").exists():
        raise _Missing("this kernel has no cgroup.kill (Linux 5.14 or later has), so a worker's processes "
                       "could not all be killed")
    return parent


def _own_cgroup(root: Path, self_cgroup: Path) -> Path:
    """This process's cgroup v2, or the delegated one above it once it moved into the SUPERVISOR leaf."""
    for line in _read(self_cgroup).splitlines():
        if line.startswith("0::"):
            own = root / line.removeprefix("0::").lstrip("/")
            return own.parent if own.name == SUPERVISOR else own
    raise _Missing(f"{self_cgroup} names no cgroup v2 for this process")


def _make_room_for_controllers(base: Path) -> None:
    """Move the processes of ``base`` into its SUPERVISOR leaf, unless its controllers are on already.

    cgroup v2 lets a cgroup other than the root turn controllers on for its children only while it holds no
    process itself, and a delegated scope holds the grader that asked for it: systemd's delegation guide
    has the delegated process move itself into a leaf of its own.
    """
    if set(V2_CONTROLLERS) <= set(_read(base / "cgroup.subtree_control").split()):
        return
    supervisor = base / SUPERVISOR
    supervisor.mkdir(exist_ok=True)
    for pid in _pids_in(base):
        with contextlib.suppress(ProcessLookupError):  # gone meanwhile
            _write(supervisor / "cgroup.procs", pid)


def _enable_controllers(directory: Path) -> None:
    _write(directory / "cgroup.subtree_control", " ".join(f"+{controller}" for controller in V2_CONTROLLERS))


def _writable(directory: Path) -> bool:
    """Whether this process may make groups in ``directory`` and move processes into them."""
    return os.access(directory, os.W_OK) and os.access(directory / "cgroup.procs", os.W_OK)


def _pids_in(directory: Path) -> list[int]:
    try:
        return [int(pid) for pid in _read(directory / "cgroup.procs").split()]
    except FileNotFoundError:  # a group already removed holds nothing
        return []


def _counters(path: Path) -> dict[str, int]:
    """A file of "name value" lines, such as memory.events; empty where it cannot be read."""
    try:
        text = _read(path)
    except OSError:
        return {}
    return {name: int(value) for name, value in (line.split() for line in text.splitlines() if line.strip())}


def _read(path: Path) -> str:
    return path.read_text()


def _write(path: Path, value: str | int) -> None:
    path.write_text(str(value))


def _wait_until(done: Callable[[], bool], *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    pause = 0.001
    while not done() and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
