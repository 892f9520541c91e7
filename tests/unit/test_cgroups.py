"""WorkerGroup on fake cgroup trees in tmp_path: which layout it picks, the files it writes, why it gives up.

A fake tree is plain files, so the kernel's side (populating a new group's folder, killing on cgroup.kill)
does not happen; the real thing is tested in tests/test_worker_cgroups.py.
"""

import pytest

from pytest_diffchallenge import cgroups
from pytest_diffchallenge.cgroups import WorkerGroup

MiB = 1 << 20
NO_SUCH_PID = 4_194_304  # Linux's largest pid_max is this, so no process ever has this pid
V2_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc"


def touch(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_cgroup(directory, controllers=V2_CONTROLLERS, subtree="", procs=""):
    """A cgroup v2 folder as the kernel shows it, before anything is written to it."""
    touch(directory / "cgroup.controllers", controllers)
    touch(directory / "cgroup.subtree_control", subtree)
    touch(directory / "cgroup.procs", procs)


def kernel_features(parent, *names):
    """Files the kernel would show in the diffchallenge folder: how the module learns what it supports."""
    for name in names:
        touch(parent / name)


@pytest.fixture
def v2(tmp_path):
    """A cgroup v2 root, where this process runs in /init.scope and may write everywhere (root)."""
    root = tmp_path / "cgroup"
    make_cgroup(root, subtree="cpu memory pids")
    kernel_features(root / "diffchallenge", "cgroup.kill")
    self_cgroup = tmp_path / "self_cgroup"
    self_cgroup.write_text("0::/init.scope\n")
    return root, self_cgroup


@pytest.fixture
def v1(tmp_path):
    """The cgroup v1 hierarchies a group needs, as on this machine (plus a cgroup2 mount with no controller)."""
    root = tmp_path / "cgroup"
    for controller in ("memory", "pids", "freezer", "cpu"):
        touch(root / controller / "cgroup.procs")
    make_cgroup(root / "unified", controllers="")
    return root


@pytest.fixture
def created():
    """Create groups through this, and they are removed however the test ends."""
    groups = []

    def create(name="w1", memory_limit=256 * MiB, max_processes=32, **where):
        group, reason = WorkerGroup.create(name, memory_limit=memory_limit, max_processes=max_processes, **where)
        if group is not None:
            groups.append(group)
        return group, reason

    yield create
    for group in groups:
        group.remove()


def only_writable_under(monkeypatch, allowed):
    """As a user other than root: only ``allowed`` and below are writable (the fake tree is all ours)."""
    monkeypatch.setattr(cgroups, "_writable", lambda directory: directory.is_relative_to(allowed))


def recorded_writes(monkeypatch):
    writes = []
    real_write = cgroups._write

    def write(path, value):
        writes.append((path.name, str(value)))
        real_write(path, value)

    monkeypatch.setattr(cgroups, "_write", write)
    return writes


# -- cgroup v2 -------------------------------------------------------------------------------------------------
def test_v2_group_sets_its_limits_and_turns_on_the_controllers_above_it(v2, created):
    root, self_cgroup = v2
    group, reason = created(memory_limit=256 * MiB, max_processes=32, root=root, self_cgroup=self_cgroup)

    assert reason == "held: cgroup v2 memory+pids"
    folder = root / "diffchallenge" / "w1"
    assert group.directories == [folder]
    assert (folder / "memory.max").read_text() == str(256 * MiB)
    assert (folder / "pids.max").read_text() == "32"
    assert not (folder / "memory.swap.max").exists(), "no swap accounting in this kernel: nothing to limit"
    assert (root / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert (root / "diffchallenge" / "cgroup.subtree_control").read_text() == "+memory +pids"


def test_v2_group_with_no_limits_writes_none(v2, created):
    root, self_cgroup = v2
    group, _ = created(memory_limit=0, max_processes=0, root=root, self_cgroup=self_cgroup)
    assert not (group.memory_dir / "memory.max").exists() and not (group.memory_dir / "pids.max").exists()


def test_v2_group_may_not_swap_where_the_kernel_accounts_swap(v2, created):
    root, self_cgroup = v2
    kernel_features(root / "diffchallenge", "memory.swap.max")
    group, _ = created(root=root, self_cgroup=self_cgroup)
    assert (group.memory_dir / "memory.swap.max").read_text() == "0"


def test_v2_kill_all_writes_cgroup_kill(v2, created, monkeypatch):
    root, self_cgroup = v2
    group, _ = created(root=root, self_cgroup=self_cgroup)
    (group.memory_dir / "cgroup.procs").write_text(f"{NO_SUCH_PID}\n")
    monkeypatch.setattr(cgroups, "KILL_SECONDS", 0.1)  # a fake group never empties

    group.kill_all()

    assert (group.memory_dir / "cgroup.kill").read_text() == "1"
    (group.memory_dir / "cgroup.procs").write_text("")


def test_v2_without_cgroup_kill_is_missing(v2, created):
    root, self_cgroup = v2
    (root / "diffchallenge" / "cgroup.kill").unlink()
    group, reason = created(root=root, self_cgroup=self_cgroup)
    assert group is None
    assert reason.startswith("missing: ") and "cgroup.kill (Linux 5.14 or later" in reason


def test_v2_without_the_memory_controller_is_missing(v2, created):
    root, self_cgroup = v2
    (root / "cgroup.controllers").write_text("cpu io pids")
    group, reason = created(root=root, self_cgroup=self_cgroup)
    assert group is None
    assert reason == f"missing: cgroup v2 at {root} offers the controllers cpu io pids, not both memory and pids"


def test_v2_user_gets_its_group_in_the_cgroup_systemd_delegated(v2, created, monkeypatch):
    root, self_cgroup = v2
    scope = root / "user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope"
    make_cgroup(scope, controllers="memory pids", procs="4242\n")
    kernel_features(scope / "diffchallenge", "cgroup.kill")
    self_cgroup.write_text(f"0::/{scope.relative_to(root)}\n")
    only_writable_under(monkeypatch, scope)

    group, reason = created(root=root, self_cgroup=self_cgroup)

    assert reason == "held: cgroup v2 memory+pids"
    assert group.directories == [scope / "diffchallenge" / "w1"]
    # a cgroup with processes in it cannot hand controllers down, so the grader moved into a leaf first
    assert (scope / "diffchallenge-supervisor" / "cgroup.procs").read_text() == "4242"
    assert (scope / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert (root / "cgroup.subtree_control").read_text() == "cpu memory pids", "the root is not this user's"


def test_v2_user_already_in_the_supervisor_leaf_makes_groups_beside_it(v2, created, monkeypatch):
    root, self_cgroup = v2
    scope = root / "user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope"
    make_cgroup(scope, controllers="memory pids", subtree="memory pids")
    make_cgroup(scope / "diffchallenge-supervisor", controllers="memory pids", procs="4242\n")
    kernel_features(scope / "diffchallenge", "cgroup.kill")
    self_cgroup.write_text(f"0::/{scope.relative_to(root)}/diffchallenge-supervisor\n")
    only_writable_under(monkeypatch, scope)

    group, _ = created(name="w2", root=root, self_cgroup=self_cgroup)

    assert group.directories == [scope / "diffchallenge" / "w2"]


def test_v2_user_without_delegation_is_told_to_use_systemd_run(v2, created, monkeypatch):
    root, self_cgroup = v2
    only_writable_under(monkeypatch, root / "nowhere")
    group, reason = created(root=root, self_cgroup=self_cgroup)
    assert group is None
    assert reason.startswith(f"missing: cgroup v2 at {root} is not writable by this user")
    assert "systemd-run --user --scope -p Delegate=yes" in reason
    assert not (root / "diffchallenge" / "w1").exists()


def test_v2_oom_kills_are_read_from_memory_events(v2, created):
    root, self_cgroup = v2
    group, _ = created(root=root, self_cgroup=self_cgroup)
    events = group.memory_dir / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 3\noom 0\noom_kill 0\noom_group_kill 0\n")
    assert not group.oom_killed()
    events.write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\noom_group_kill 0\n")
    assert group.oom_killed()


# -- cgroup v1 -------------------------------------------------------------------------------------------------
def test_v1_group_has_a_folder_in_each_hierarchy_with_its_limits(v1, created):
    group, reason = created(memory_limit=64 * MiB, max_processes=8, root=v1)

    assert reason == "held: cgroup v1 memory+pids+freezer"
    assert group.directories == [v1 / hierarchy / "diffchallenge" / "w1" for hierarchy in ("memory", "pids", "freezer")]
    assert (v1 / "memory/diffchallenge/w1/memory.limit_in_bytes").read_text() == str(64 * MiB)
    assert not (v1 / "memory/diffchallenge/w1/memory.memsw.limit_in_bytes").exists()
    assert (v1 / "pids/diffchallenge/w1/pids.max").read_text() == "8"
    assert not (v1 / "unified" / "diffchallenge").exists(), "the hybrid layout's cgroup2 mount is not used"


def test_v1_memory_and_swap_share_the_limit_where_the_kernel_accounts_swap(v1, created):
    kernel_features(v1 / "memory" / "diffchallenge", "memory.memsw.limit_in_bytes")
    group, _ = created(memory_limit=64 * MiB, root=v1)
    assert (group.memory_dir / "memory.memsw.limit_in_bytes").read_text() == str(64 * MiB)


def test_v1_kill_all_freezes_kills_and_thaws(v1, created, monkeypatch):
    group, _ = created(root=v1)
    (group.freezer_dir / "cgroup.procs").write_text(f"{NO_SUCH_PID}\n")
    monkeypatch.setattr(cgroups, "KILL_SECONDS", 0.01)  # one attempt: a fake group never empties
    writes = recorded_writes(monkeypatch)

    group.kill_all()

    assert writes == [("freezer.state", "FROZEN"), ("freezer.state", "THAWED")]
    (group.freezer_dir / "cgroup.procs").write_text("")


def test_v1_oom_kills_are_read_from_memory_oom_control(v1, created):
    group, _ = created(root=v1)
    (group.memory_dir / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert group.oom_killed()


def test_v1_without_the_freezer_is_missing(v1, created):
    (v1 / "freezer" / "cgroup.procs").unlink()
    group, reason = created(root=v1)
    assert group is None
    assert reason == f"missing: cgroup v1 at {v1} has no freezer controller mounted, which a worker's group needs"


def test_v1_writable_only_by_root_is_missing_and_names_systemd_delegation(v1, created, monkeypatch):
    only_writable_under(monkeypatch, v1 / "nowhere")
    group, reason = created(root=v1)
    assert group is None
    assert reason.startswith(f"missing: cgroup v1 at {v1} is writable only by root")
    assert "systemd-run --user --scope -p Delegate=yes" in reason


def test_a_name_already_taken_fails_and_leaves_the_other_group_alone(v1, created):
    taken = v1 / "freezer" / "diffchallenge" / "w1"
    taken.mkdir(parents=True)
    group, reason = created(root=v1)
    assert group is None
    assert reason.startswith("missing: cannot set up a cgroup ([Errno 17] File exists")
    assert taken.is_dir()
    assert not (v1 / "memory/diffchallenge/w1").exists() and not (v1 / "pids/diffchallenge/w1").exists()


# -- both ------------------------------------------------------------------------------------------------------
def test_nothing_mounted_is_missing_with_the_reason(tmp_path, created):
    group, reason = created(root=tmp_path)
    assert group is None
    assert reason == (f"missing: no cgroup filesystem at {tmp_path}: neither cgroup v2 nor the v1 controllers "
                      "memory, pids, freezer are mounted there")


def test_preexec_and_add_write_to_the_cgroup_procs_of_every_hierarchy(v1, created):
    group, _ = created(root=v1)
    procs = [directory / "cgroup.procs" for directory in group.directories]

    group.preexec()  # here in the test process, on fake files: in a child it moves the child
    assert [path.read_text() for path in procs] == ["0"] * 3
    group.add(NO_SUCH_PID)
    assert [path.read_text() for path in procs] == [str(NO_SUCH_PID)] * 3

    for path in procs:
        path.write_text("")  # remove() would kill what the fake lists


@pytest.mark.parametrize("name", ["", "a/b", "..", "."])
def test_a_name_is_one_folder_name(v2, name):
    root, self_cgroup = v2
    with pytest.raises(ValueError, match="one folder name"):
        WorkerGroup.create(name, memory_limit=0, max_processes=0, root=root, self_cgroup=self_cgroup)
