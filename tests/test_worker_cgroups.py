"""WorkerGroup on this machine's real cgroups: limits hold, kill_all leaves nothing, remove() leaves no folder.

Skipped, with create()'s reason, where no cgroup can be had (a user other than root without delegation).
"""

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_diffchallenge.cgroups import CGROUP_ROOT, WorkerGroup

MiB = 1 << 20
NOBODY = 65534

FORK_BOMB = """
import os, time
while True:
    try:
        os.fork()
    except OSError:  # at the group's process limit
        time.sleep(0.01)
"""
# Each process forks and exits at once: no pid lives long enough to be killed by a kill that goes pid by pid.
HOPPER = """
import os, time
while True:
    try:
        if os.fork():
            os._exit(0)
    except OSError:
        time.sleep(0.001)
"""
HOG = """
block = bytearray(512 * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1
"""
SLEEP = ["sleep", "60"]  # an executable any user may run


class Groups:
    """Groups and children made by one test; all killed and removed when it ends, passed or failed."""

    def __init__(self):
        self.made: list[WorkerGroup] = []
        self.children: list[subprocess.Popen] = []

    def create(self, *, memory_limit: int = 0, max_processes: int = 64) -> WorkerGroup:
        name = f"test{os.getpid()}-{secrets.token_hex(4)}"
        group, reason = WorkerGroup.create(name, memory_limit=memory_limit, max_processes=max_processes)
        if group is None:
            pytest.skip(f"no cgroup for a worker here: {reason}")
        self.made.append(group)
        return group

    def spawn(self, into: WorkerGroup | None, command: list[str], **popen) -> subprocess.Popen:
        """A child in group ``into`` from before it executes ``command``."""
        child = subprocess.Popen(command, preexec_fn=into.preexec if into else None, **popen)
        self.children.append(child)
        return child

    def clean_up(self):
        for group in self.made:
            group.remove()
        for child in self.children:
            child.kill()
            child.wait()


@pytest.fixture
def groups():
    made = Groups()
    yield made
    made.clean_up()


def python(code: str, tag: str = "") -> list[str]:
    """``python -c code``, with ``tag`` on its command line for ps_tagged()."""
    return [sys.executable, "-c", code, tag]


def ps_tagged(tag: str) -> list[int]:
    """Live processes whose command line holds ``tag`` (a zombie's command line is empty)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and tag.encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            pass  # gone meanwhile
    return found


def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_fork_bomb_stays_at_the_process_limit_and_kill_all_leaves_nothing(groups):
    group = groups.create(max_processes=16)
    tag = f"bomb-{secrets.token_hex(4)}"
    bomb = groups.spawn(group, python(FORK_BOMB, tag))

    wait_for(lambda: len(group.pids()) == 16)
    time.sleep(0.3)
    assert len(group.pids()) == 16

    group.kill_all()

    assert group.pids() == []
    assert bomb.wait(timeout=5) == -9
    wait_for(lambda: not ps_tagged(tag), seconds=2)


def test_a_process_that_keeps_re_forking_is_still_all_killed(groups):
    group = groups.create(max_processes=16)
    tag = f"hopper-{secrets.token_hex(4)}"
    groups.spawn(group, python(HOPPER, tag))
    wait_for(lambda: group.pids())
    before = set(group.pids())
    wait_for(lambda: not set(group.pids()) & before, seconds=2)  # every pid it had is gone: it hops on

    group.kill_all()

    assert group.pids() == []
    time.sleep(0.2)  # were one left, it would have forked on by now
    assert not ps_tagged(tag)


def test_a_child_over_the_memory_limit_is_oom_killed(groups):
    group = groups.create(memory_limit=64 * MiB)
    hog = groups.spawn(group, python(HOG))

    assert hog.wait(timeout=60) == -9
    assert group.oom_killed()


def test_a_child_that_is_within_its_limit_was_not_oom_killed(groups):
    group = groups.create(memory_limit=64 * MiB)
    assert groups.spawn(group, python("pass")).wait(timeout=60) == 0
    assert not group.oom_killed()


def test_a_child_started_as_another_user_joins_through_the_files_opened_here(groups):
    if os.geteuid() != 0:
        pytest.skip("only root can start a child as another user")
    group = groups.create()
    child = groups.spawn(group, SLEEP, user=NOBODY, group=NOBODY, extra_groups=[])  # setuid precedes preexec_fn
    assert child.pid in group.pids()


def test_a_process_started_elsewhere_is_added_and_killed(groups):
    group = groups.create()
    child = groups.spawn(None, SLEEP)

    group.add(child.pid)
    assert group.pids() == [child.pid]
    group.kill_all()
    assert child.wait(timeout=5) == -9


def test_remove_kills_what_is_left_and_leaves_no_folder_behind(groups):
    group = groups.create(memory_limit=256 * MiB)
    name = group.memory_dir.name
    child = groups.spawn(group, SLEEP)
    wait_for(lambda: group.pids() == [child.pid])

    group.remove()

    assert child.wait(timeout=5) == -9
    assert group.directories == []
    assert not [*CGROUP_ROOT.glob(f"*/diffchallenge/{name}"), *CGROUP_ROOT.glob(f"diffchallenge/{name}")]
