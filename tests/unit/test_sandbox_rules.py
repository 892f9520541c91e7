"""The sandbox's rules as data, checked without confining anything (tests/test_sandbox.py confines for real)."""

import ctypes
import os
import sys
from pathlib import Path

import pytest

from pytest_diffchallenge.worker import sandbox

REPO = Path(__file__).resolve().parents[2]
TOY_CHALLENGE = REPO / "tests" / "toy-bank" / "challenges" / "toy-challenge"


def test_struct_layouts_match_the_kernel():
    assert ctypes.sizeof(sandbox.PathBeneathAttr) == 12  # packed: u64 then s32
    assert [sandbox.ruleset_size(abi) for abi in range(1, 9)] == [8, 8, 8, 16, 16, 24, 24, 24]


def test_handled_filesystem_rights_grow_with_the_abi():
    rights = {abi: sandbox.handled_filesystem_rights(abi) for abi in range(1, 9)}
    assert rights[1] == 0x1FFF
    assert rights[2] == rights[1] | sandbox.FS_REFER
    assert rights[3] == rights[4] == rights[2] | sandbox.FS_TRUNCATE
    assert rights[5] == rights[8] == rights[3] | sandbox.FS_IOCTL_DEV


def rules(tmp_path, device="cpu"):
    workdir = tmp_path / "workdir"
    workdir.mkdir(exist_ok=True)
    found = sandbox.filesystem_rules(workdir=str(workdir), read_only=[str(TOY_CHALLENGE)], device=device)
    return workdir, [(os.path.realpath(path), rights) for path, rights in found]


def beneath(path: Path, folder: str) -> bool:
    return os.path.commonpath([os.path.realpath(path), folder]) == folder


def test_no_rule_reaches_the_bank_or_the_repository(tmp_path):
    _, found = rules(tmp_path)
    for secret in (REPO / "solutions", REPO / "tests" / "toy-bank" / "solutions", REPO / "grader", REPO):
        assert not [path for path, _ in found if beneath(secret, path)], f"{secret} is readable"
    readable = [path for path, _ in found]
    assert str(TOY_CHALLENGE) in readable and os.path.realpath(REPO / "pytest_diffchallenge") in readable


def test_nothing_executes_and_only_the_workdir_and_dev_null_are_written(tmp_path):
    workdir, found = rules(tmp_path)
    assert not [path for path, rights in found if rights & sandbox.FS_EXECUTE]
    written = {path for path, rights in found if rights & ~sandbox.READ}
    assert written == {str(workdir), "/dev/null"}


def test_a_cuda_worker_may_use_the_gpu_device_files(tmp_path, monkeypatch):
    for name in ("nvidia0", "nvidiactl", "nvidia-uvm"):
        (tmp_path / name).touch()
    monkeypatch.setattr(sandbox, "GPU_DEVICE_FILES", (str(tmp_path / "nvidia*"),))
    assert not [path for path, rights in rules(tmp_path)[1] if rights & sandbox.FS_IOCTL_DEV]
    devices = {Path(path).name for path, rights in rules(tmp_path, "cuda:0")[1] if rights == sandbox.DEVICE}
    assert devices == {"nvidia0", "nvidiactl", "nvidia-uvm"}


def test_a_missing_pyseccomp_is_reported_not_raised(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyseccomp", None)  # import pyseccomp now raises ImportError
    assert sandbox.build_syscall_filter() == (None, "the Python package pyseccomp is not installed")


def test_the_syscall_filter_names_every_denied_call(tmp_path):
    syscall_filter, missing = sandbox.build_syscall_filter()
    if syscall_filter is None:
        pytest.skip(f"seccomp is missing here: {missing}")
    with open(tmp_path / "filter.pfc", "w") as pfc:
        syscall_filter.export_pfc(pfc)  # libseccomp's readable form of the filter; nothing is loaded
    text = (tmp_path / "filter.pfc").read_text()
    for name in (*sandbox.DENIED_SYSCALLS, *sandbox.SIGNALLING_SYSCALLS, "clone", "clone3", "personality"):
        assert f"# filter for syscall \"{name}\"" in text, name


def test_a_malformed_sandbox_request_is_refused():
    for text, message in [("[]", "JSON object"), ('{"landlock": 1}', "unknown keys"),
                          ('{"landlock_abi_max": -1}', ">= 0"), ('{"seccomp": "no"}', "true or false")]:
        with pytest.raises(ValueError, match=message):
            sandbox.SandboxRequest.from_json(text)
    assert sandbox.SandboxRequest.from_json("") == sandbox.SandboxRequest()
    assert sandbox.SandboxRequest.from_json('{"landlock_abi_max": 4, "seccomp": false}') == \
        sandbox.SandboxRequest(landlock_abi_max=4, seccomp=False)
