"""The worker's kernel sandbox (``pytest_diffchallenge.worker.sandbox``), in real confined processes.

Each test starts a worker-like child (``python -I``, capabilities dropped, torch imported, then
``sandbox.confine``) that tries what candidate code might try and says what happened; one test starts the
worker itself and reads the report in its ready frame. The fallbacks run on this kernel by emulating older
ones (``landlock_abi_max``) or a machine without seccomp.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from pytest_diffchallenge import wire
from pytest_diffchallenge.worker import sandbox

REPO = Path(__file__).resolve().parents[1]
TOY_BANK = REPO / "tests" / "toy-bank"
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])


def kernel_landlock_abi() -> int:
    return sandbox.kernel_landlock_abi(sandbox.Landlock())[0]


def seccomp_reason_missing() -> str | None:
    return sandbox.build_syscall_filter()[1]


needs_full_landlock = pytest.mark.skipif(kernel_landlock_abi() < sandbox.SCOPES_ABI,
                                         reason="needs a kernel with Landlock ABI 6 or later")
needs_landlock = pytest.mark.skipif(kernel_landlock_abi() < 1, reason="needs a kernel with Landlock")
needs_seccomp = pytest.mark.skipif(seccomp_reason_missing() is not None,
                                   reason=f"seccomp is missing here: {seccomp_reason_missing()}")

# The child: a worker-like process that confines itself, tries each check, and prints what happened as JSON.
CHILD = r'''
import ctypes, errno, json, os, signal, socket, subprocess, sys, tempfile, threading, time

setup = json.loads(sys.argv[1])
from pytest_diffchallenge.worker.confinement import drop_capabilities
drop_capabilities()
import torch
from pytest_diffchallenge.worker.sandbox import SandboxRequest, confine

parent = os.getppid()


def read(path):
    with open(path, "rb") as handle:
        return len(handle.read())


def write(path):
    with open(path, "w") as handle:
        handle.write("written by a confined process")


def run_shell():
    os.system("echo > shell-ran")
    if not os.path.exists("shell-ran"):
        raise PermissionError("the shell did not run")


def fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def stop_parent():
    try:
        os.kill(parent, 0)  # the same permission checks as SIGSTOP, without stopping anything
    except OSError:
        os.kill(parent, signal.SIGSTOP)  # must be denied as well
        return "SIGSTOP sent"
    return "signal 0 went through, so SIGSTOP was not sent: it would stop the test run"


def tcp_connect():
    with socket.socket() as client:
        client.connect(("127.0.0.1", setup["port"]))


def tcp_bind():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))


def work_in_workdir():
    write("made.txt")
    os.mkdir("folder")
    os.rename("made.txt", "folder/moved.txt")  # into another folder: Landlock's REFER right
    os.truncate("folder/moved.txt", 3)
    handle, path = tempfile.mkstemp()  # TMPDIR is the workdir
    os.close(handle)
    os.remove(path)
    return read("folder/moved.txt")


def lazy_torch_modules():
    import torch.distributions, torch.fft, torch.linalg, torch.nn.attention
    return float(torch.distributions.Normal(0.0, 1.0).log_prob(torch.zeros(1)))


def diffusers_unet():
    import diffusers
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=3, out_channels=3, layers_per_block=1,
                                 block_out_channels=(8, 16), down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                                 up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=4)
    return list(unet(torch.randn(1, 3, 8, 8), 3).sample.shape)


def threaded_torch():
    torch.set_num_threads(2)
    product = torch.ones(400, 400) @ torch.ones(400, 400)
    results = []
    thread = threading.Thread(target=lambda: results.append(float(product[0, 0])))
    thread.start()
    thread.join()
    return [torch.get_num_threads(), results[0], len(os.listdir("/proc/self/task"))]


CHECKS = {
    "read bank solutions": lambda: read(setup["solution"]),
    "list bank solutions": lambda: os.listdir(os.path.dirname(os.path.dirname(setup["solution"]))),
    "read toy hidden tests": lambda: read(setup["toy_hidden_tests"]),
    "write site-packages": lambda: write(setup["site_packages_file"]),
    "write repository": lambda: write(setup["repository_file"]),
    "write /tmp outside workdir": lambda: write(setup["outside_file"]),
    "write /dev/shm": lambda: write(setup["shm_file"]),
    "list /dev/shm": lambda: os.listdir("/dev/shm"),
    "read /etc/shadow": lambda: read("/etc/shadow"),
    "subprocess": lambda: subprocess.run(["/bin/true"], check=True),
    "fork": fork,
    "os.system": run_shell,
    "tcp socket": lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(),
    "unix socket": lambda: socket.socket(socket.AF_UNIX).close(),
    "socketpair": lambda: [end.close() for end in socket.socketpair()],
    "tcp connect": tcp_connect,
    "tcp bind": tcp_bind,
    "signal parent": stop_parent,
    "parent memory": lambda: read(f"/proc/{parent}/mem"),
    "parent environment": lambda: read(f"/proc/{parent}/environ"),
    "work in workdir": work_in_workdir,
    "write /dev/null": lambda: write("/dev/null"),
    "lazy torch modules": lazy_torch_modules,
    "diffusers unet": diffusers_unet,
    "threaded torch": threaded_torch,
}

started = time.perf_counter()
report = confine(workdir=os.getcwd(), read_only=[], device="cpu", wanted=SandboxRequest.from_json(setup["request"]))
confine_ms = (time.perf_counter() - started) * 1000
outcomes = {}
for name in setup["checks"]:
    try:
        outcomes[name] = "allowed: " + json.dumps(CHECKS[name](), default=str)
    except OSError as error:
        outcomes[name] = "denied: " + (errno.errorcode.get(error.errno) or str(error))
print(json.dumps({"report": report, "outcomes": outcomes, "confine_ms": confine_ms}), flush=True)

if setup["then"] == "segfault":
    ctypes.string_at(0)
elif setup["then"] == "abort":
    os.abort()
elif setup["then"] == "sigsegv":
    os.kill(os.getpid(), signal.SIGSEGV)
'''

FORBIDDEN = ["read bank solutions", "list bank solutions", "read toy hidden tests", "write site-packages",
             "write repository", "write /tmp outside workdir", "write /dev/shm", "list /dev/shm", "read /etc/shadow",
             "subprocess", "fork", "os.system",
             "tcp socket", "unix socket", "socketpair", "signal parent", "parent memory", "parent environment"]
ALLOWED = ["work in workdir", "write /dev/null", "lazy torch modules", "diffusers unet", "threaded torch"]


@pytest.fixture(scope="module")
def listening_port():
    """A TCP port that accepts connections, so that only a sandbox can make a connect fail."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture(scope="module")
def confined(tmp_path_factory, listening_port):
    """run(request, checks, then=None, threads=1) -> the child's report, outcomes, confine_ms, returncode."""
    solution = sorted((REPO / "solutions").glob("*/solution.py"))[0]
    created = [SITE_PACKAGES / "diffchallenge-sandbox-test.pth", REPO / "diffchallenge-sandbox-test.txt",
               Path(f"/dev/shm/diffchallenge-sandbox-test-{os.getpid()}")]

    def run(request: dict, checks: list[str], *, then: str | None = None, threads: int = 1) -> dict:
        scratch = tmp_path_factory.mktemp("sandbox")
        workdir = scratch / "workdir"
        workdir.mkdir()
        setup = {"request": json.dumps(request), "checks": checks, "then": then, "port": listening_port,
                 "solution": str(solution),
                 "toy_hidden_tests": str(TOY_BANK / "solutions" / "toy-challenge" / "test_hidden.py"),
                 "site_packages_file": str(created[0]), "repository_file": str(created[1]), "shm_file": str(created[2]),
                 "outside_file": str(scratch / "outside.txt")}
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir),
               "LANG": "C.UTF-8", "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
        try:
            child = subprocess.run([sys.executable, "-I", "-c", CHILD, json.dumps(setup)], cwd=workdir, env=env,
                                   capture_output=True, text=True, timeout=300)
        finally:
            for path in created:  # had the sandbox failed, leave nothing behind
                path.unlink(missing_ok=True)
        lines = child.stdout.strip().splitlines()
        assert lines and lines[-1].startswith("{"), f"the child failed ({child.returncode}):\n{child.stderr[-3000:]}"
        return {**json.loads(lines[-1]), "returncode": child.returncode, "stderr": child.stderr}

    return run


@pytest.fixture(scope="module")
def fully_confined(confined):
    return confined({}, FORBIDDEN + ALLOWED)


# -- every layer the kernel has -------------------------------------------------------------------------------
@needs_full_landlock
@needs_seccomp
def test_every_layer_is_held(fully_confined):
    report = fully_confined["report"]
    assert set(report) == set(sandbox.LAYERS)
    assert report["landlock-filesystem"] == f"held (ABI {kernel_landlock_abi()})"
    assert report["landlock-network"] == report["landlock-signals"] == report["seccomp"] == "held"


@needs_full_landlock
@needs_seccomp
@pytest.mark.parametrize("attempt", FORBIDDEN)
def test_candidate_code_cannot(fully_confined, attempt):
    assert fully_confined["outcomes"][attempt].startswith("denied"), fully_confined["outcomes"][attempt]


@needs_full_landlock
@needs_seccomp
@pytest.mark.parametrize("attempt", ALLOWED)
def test_candidate_code_still_can(fully_confined, attempt):
    assert fully_confined["outcomes"][attempt].startswith("allowed"), fully_confined["stderr"][-3000:]


@needs_full_landlock
@needs_seccomp
def test_threads_started_inside_the_sandbox_work(fully_confined):
    threads, value, tasks = json.loads(fully_confined["outcomes"]["threaded torch"].removeprefix("allowed: "))
    assert threads == 2 and value == 400.0 and tasks >= 2


@needs_full_landlock
@needs_seccomp
def test_what_is_denied_is_denied_for_the_right_reason(fully_confined):
    outcomes = fully_confined["outcomes"]
    assert outcomes["read bank solutions"] == "denied: EACCES"  # Landlock
    # Landlock gives no ptrace access outside the domain (nor do the capabilities the worker dropped)
    assert outcomes["parent memory"] == outcomes["parent environment"] == "denied: EACCES"
    assert outcomes["fork"] == outcomes["tcp socket"] == outcomes["signal parent"] == "denied: EPERM"  # seccomp


@needs_landlock
@needs_seccomp
@pytest.mark.parametrize("then, signal_number", [("segfault", signal.SIGSEGV), ("abort", signal.SIGABRT),
                                                 ("sigsegv", signal.SIGSEGV)])
def test_a_confined_worker_still_dies_of_its_own_signals(confined, then, signal_number):
    result = confined({}, [], then=then)
    assert result["returncode"] == -signal_number


@needs_landlock
def test_threads_that_predate_the_sandbox_are_reported(confined):
    # OMP_NUM_THREADS=2 makes torch start a thread at import, before confine(): Landlock (ABI < 8) misses it.
    report = confined({"seccomp": False}, [], threads=2)["report"]
    if kernel_landlock_abi() >= sandbox.TSYNC_ABI:
        assert "except" not in report["landlock-filesystem"]
    else:
        assert "thread(s) started before it" in report["landlock-filesystem"], report


# -- fallbacks: older kernels, no seccomp, no sandbox ----------------------------------------------------------
@needs_full_landlock
@needs_seccomp
def test_landlock_abi_4_reports_signals_missing_and_seccomp_still_stops_signals(confined):
    result = confined({"landlock_abi_max": 4}, ["signal parent", "read bank solutions", "tcp socket"])
    report, outcomes = result["report"], result["outcomes"]
    assert report["landlock-filesystem"] == "held (ABI 4)"
    assert report["landlock-network"] == report["seccomp"] == "held"
    assert report["landlock-signals"] == (
        f"missing: Landlock is limited to ABI 4 by the sandbox request (the kernel has ABI {kernel_landlock_abi()}); "
        "signals and abstract Unix sockets are scoped from ABI 6")
    assert outcomes["signal parent"] == "denied: EPERM"
    assert outcomes["read bank solutions"] == "denied: EACCES"
    assert outcomes["tcp socket"] == "denied: EPERM"


@needs_landlock
@needs_seccomp
def test_landlock_abi_0_reports_every_landlock_layer_missing(confined):
    result = confined({"landlock_abi_max": 0}, ["signal parent", "subprocess", "tcp socket"])
    report, outcomes = result["report"], result["outcomes"]
    for layer in sandbox.LANDLOCK_LAYERS:
        assert report[layer].startswith("missing: Landlock is limited to ABI 0 by the sandbox request"), report
    assert report["seccomp"] == "held"
    assert outcomes == {"signal parent": "denied: EPERM", "subprocess": "denied: EPERM",
                        "tcp socket": "denied: EPERM"}


@needs_full_landlock
def test_without_seccomp_landlock_still_stops_programs_tcp_and_signals(confined):
    checks = ["subprocess", "tcp connect", "tcp bind", "signal parent", "read bank solutions", "work in workdir"]
    result = confined({"seccomp": False}, checks)
    report, outcomes = result["report"], result["outcomes"]
    assert report["seccomp"] == "missing: turned off by the sandbox request (as on a machine without seccomp)"
    assert all(report[layer].startswith("held") for layer in sandbox.LANDLOCK_LAYERS), report
    assert outcomes["subprocess"] == "denied: EACCES"  # the fork works, the exec does not
    assert outcomes["tcp connect"] == outcomes["tcp bind"] == "denied: EACCES"
    assert outcomes["signal parent"] == "denied: EPERM"
    assert outcomes["read bank solutions"] == "denied: EACCES"
    assert outcomes["work in workdir"].startswith("allowed")


def test_no_sandbox_turns_every_layer_off(confined):
    result = confined({"enabled": False}, ["tcp connect"])
    assert result["report"] == {layer: "off: --no-sandbox" for layer in sandbox.LAYERS}
    assert result["outcomes"] == {"tcp connect": "allowed: null"}


# -- the worker itself --------------------------------------------------------------------------------------------
SOLUTION = '''
import os, socket


def attempts():
    outcomes = {}
    tries = {"read hidden tests": lambda: open(os.environ["HIDDEN"]).read(),
             "write the repository": lambda: open(os.environ["REPO_FILE"], "w"),
             "fork": os.fork, "socket": socket.socket}
    for name, attempt in tries.items():
        try:
            attempt()
            outcomes[name] = "allowed"
        except OSError:
            outcomes[name] = "denied"
    return outcomes
'''


@needs_full_landlock
@needs_seccomp
def test_the_worker_reports_its_sandbox_when_ready_and_confines_the_submission(tmp_path):
    workdir, challenge = tmp_path / "workdir", tmp_path / "challenge"
    (workdir / "submission").mkdir(parents=True)
    challenge.mkdir()
    (workdir / "submission" / "solution.py").write_text(SOLUTION)
    (challenge / "probes.py").write_text("def attempts(solution):\n    return solution.attempts()\n")
    repo_file = REPO / "diffchallenge-sandbox-worker-test.txt"
    worker_read, client_write = os.pipe()
    client_read, worker_write = os.pipe()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir), "OMP_NUM_THREADS": "2",
           "HIDDEN": str(TOY_BANK / "solutions" / "toy-challenge" / "test_hidden.py"), "REPO_FILE": str(repo_file)}
    command = [sys.executable, "-I", "-m", "pytest_diffchallenge.worker", "--submission", str(workdir / "submission"),
               "--probes", str(challenge / "probes.py"), "--threads", "2",
               "--read-fd", str(worker_read), "--write-fd", str(worker_write)]
    log = tmp_path / "worker.log"
    with open(log, "wb") as output:
        worker = subprocess.Popen(command, cwd=workdir, env=env, pass_fds=(worker_read, worker_write),
                                  stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    os.close(worker_read)
    os.close(worker_write)
    try:
        with os.fdopen(client_read, "rb", buffering=0) as inbox, os.fdopen(client_write, "wb") as outbox:
            ready = wire.read_frame(inbox)
            wire.write_frame(outbox, {"op": "prepare", "probe": "attempts"})
            handle = wire.read_frame(inbox)["handle"]
            wire.write_frame(outbox, {"op": "run", "handle": handle})
            reply = wire.read_frame(inbox)
            wire.write_frame(outbox, {"op": "exit"})
        assert worker.wait(timeout=60) == 0
    finally:
        worker.kill()
        worker.wait()
        repo_file.unlink(missing_ok=True)
    # torch's threads (OMP_NUM_THREADS=2) start after confine(), inside the sandbox: none is left outside
    assert ready["sandbox"] == {"landlock-filesystem": f"held (ABI {kernel_landlock_abi()})",
                                "landlock-network": "held", "landlock-signals": "held", "seccomp": "held"}
    assert ready["ok"] and ready["ready"] and ready["pid"] == worker.pid
    assert reply == {"ok": True, "result": {"read hidden tests": "denied", "write the repository": "denied",
                                            "fork": "denied", "socket": "denied"}}, log.read_text()[-3000:]

