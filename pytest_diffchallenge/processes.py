"""Processes of a grading, read from /proc, and the one routine that kills them.

``kill_tree`` stops a whole tree before it kills any of it: a stopped process cannot fork, so a
submission that keeps re-forking cannot outrun it, and no process is re-parented half-way through.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
MAX_PASSES = 1000
ENDING_WAIT_S = 10


def become_subreaper() -> None:
    """Orphaned descendants are re-parented to this process, so none escapes clean-up."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def parents() -> dict[int, int]:
    """Every live process's parent."""
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat_fields(entry.name)) is not None:
            found[int(entry.name)] = int(fields[1])
    return found


def children() -> set[int]:
    """This process's live children."""
    me = os.getpid()
    return {pid for pid, parent in parents().items() if parent == me}


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents().items():
        children.setdefault(parent, []).append(pid)
    found, pending = set(), [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # not our child: its own parent (or init) collects it, once it has ended
        _wait_ended(pid, deadline=time.monotonic() + ENDING_WAIT_S)


def _wait_ended(pid: int, deadline: float) -> None:
    """A killed process runs on while the kernel frees its memory: wait until it is a zombie, or gone."""
    while time.monotonic() < deadline and (fields := _stat_fields(pid)) is not None and fields[0] not in "ZX":
        time.sleep(0.01)


def kill_tree(root: int, *, include_root: bool = True) -> None:
    """Kill ``root`` and every process below it: stop them all first, then kill them all.

    Killed children of this process are reaped, except ``root`` itself, which its caller waits for.
    """
    stopped: set[int] = set()
    for _ in range(MAX_PASSES):
        tree = descendants(root) | ({root} if include_root else set())
        new = tree - stopped
        if not new:
            break
        for pid in new:
            _signal(pid, signal.SIGSTOP)
        stopped |= new
    for pid in stopped:
        _signal(pid, signal.SIGKILL)
    for pid in stopped - {root}:
        _reap(pid)


def kill_children(spare: set[int]) -> None:
    """Kill every child of this process (and its tree) but those in ``spare``: re-parented orphans."""
    for pid in children() - spare:
        kill_tree(pid)
        _reap(pid)


def resident_bytes(pid: int, field: str = "VmRSS") -> int:
    """Resident memory (VmRSS), or its high-water mark (VmHWM), from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its waited-for children."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def reset_high_water_mark(pid: int) -> None:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass
