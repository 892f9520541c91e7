"""The worker template: a worker it forks is what a fresh interpreter would have been, it serves only the grader,
and nothing of it is left once it stops, its grader crashes or a batch is interrupted.

Here the test process is the trusted session (it drives WorkerClient), and a small grader process owns the
template, as the fork server's grader does: a session kills the children it does not know, so it must not be
the template's parent.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from conftest import HOSTILE, TOY, TOY_BANK

from diffchallenge.runners.forkserver import NO_TEMPLATE_VARIABLE
from pytest_diffchallenge import spawning
from pytest_diffchallenge.client import WorkerClient
from pytest_diffchallenge.faults import WorkerDied
from pytest_diffchallenge.sandboxing import SANDBOX_OFF
from pytest_diffchallenge.spawning import TEMPLATE_VARIABLE, ForkedWorker, ask_template, spawn_worker
from pytest_diffchallenge.users import UID_VARIABLES
from pytest_diffchallenge.worker.template import EXIT_NOT_STARTED, PRELOAD, WORKER_MODULE

BIN = Path(sys.executable).parent
GRADER = ("import sys\n"
          "from pytest_diffchallenge.spawning import WorkerTemplate\n"
          "template = WorkerTemplate()\n"
          "print(template.address, template.process.pid, flush=True)\n"
          "sys.stdin.read()\n"
          "template.stop()\n")
# The fields of /proc/<pid>/status that say who a worker is and what it may do.
STATUS_FIELDS = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")
# Set in a fresh worker by importing torch._dynamo, which the template did in its own environment; a forked
# worker gets it (in its own TMPDIR) the first time torch needs it.
SET_BY_IMPORTS = {"TORCHINDUCTOR_CACHE_DIR"}
NOBODY = 65534
EXTRA_PROBES = '''
import json, os, socket, sys, time


def environment(solution):
    return {"environment": dict(os.environ)}


def threads(solution):
    x = torch.randn(512, 512)
    for _ in range(10):  # large enough for the intra-op pool
        x = torch.tanh(x @ x / 512)
    return {"torch": torch.get_num_threads(), "tasks": len(os.listdir("/proc/self/task"))}


def ask_template(solution, address):
    """What a worker would do to get an unsandboxed worker of its own."""
    try:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        connection.settimeout(30)
        connection.connect(address)
        read, write = os.pipe()
        argv = [sys.executable, "-I", "-m", "pytest_diffchallenge.worker", "--submission", "/", "--probes", "/",
                "--read-fd", str(read), "--write-fd", str(write), "--sandbox", json.dumps({"enabled": False})]
        request = {"argv": argv, "cwd": "/", "env": {}, "pass_fds": [read, write], "user": None}
        socket.send_fds(connection, [json.dumps(request).encode()], [2, read, write])
        return {"reply": connection.recv(65536).decode()}
    except OSError as error:
        return {"reply": f"{type(error).__name__}: {error}"}


def leave_orphan(solution):
    """A daemon, as writes_results.py starts one: its parent exits, so it is re-parented to the subreaper."""
    read, write = os.pipe()
    if os.fork() == 0:
        os.setsid()
        daemon = os.fork()
        if daemon == 0:
            time.sleep(120)
            os._exit(0)
        os.write(write, str(daemon).encode())
        os._exit(0)
    return {"daemon": int(os.read(read, 32))}
'''


@pytest.fixture(scope="module")
def probes(tmp_path_factory) -> Path:
    """The toy challenge's probes, and those of these tests."""
    path = tmp_path_factory.mktemp("probes") / "probes.py"
    path.write_text((TOY / "probes.py").read_text() + EXTRA_PROBES)
    return path


@dataclass
class RunningTemplate:
    grader: subprocess.Popen
    address: str
    pid: int

    @property
    def folder(self) -> Path:
        return Path(self.address).parent

    def stop(self) -> None:
        if self.grader.poll() is None:
            assert self.grader.stdin is not None
            self.grader.stdin.close()
            self.grader.wait(60)


def start_template() -> RunningTemplate:
    grader = subprocess.Popen([sys.executable, "-c", GRADER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert grader.stdout is not None
    address, pid = grader.stdout.readline().split()
    return RunningTemplate(grader, address, int(pid))


@pytest.fixture(scope="module")
def shared_template():
    template = start_template()
    yield template
    template.stop()


@pytest.fixture
def template(shared_template, monkeypatch):
    monkeypatch.setenv(TEMPLATE_VARIABLE, shared_template.address)
    return shared_template


@pytest.fixture
def own_template(monkeypatch):
    """A template for one test, which may stop or kill it."""
    template = start_template()
    monkeypatch.setenv(TEMPLATE_VARIABLE, template.address)
    yield template
    template.stop()


def worker(tmp_path: Path, probes: Path, solution: str = "correct", scratch: Path | None = None,
           **options) -> WorkerClient:
    folder = tmp_path / f"{solution}-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    shutil.copyfile(HOSTILE / f"{solution}.py", folder / "solution.py")
    return WorkerClient(solution_dir=folder, probes=probes, forbidden=["torch.add"], scratch=scratch or tmp_path,
                        **options)


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def children_of(pid: int) -> set[int]:
    return {int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit() and alive(int(e.name))
            and parent_of(int(e.name)) == pid}


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def wait_until(condition, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def portrait(client: WorkerClient) -> dict:
    """What a worker is, seen from the trusted side and from inside, with its own folder's name taken out."""
    pid, folder = client.pid, str(client.workdir)
    fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    environment = client.call("environment")["environment"]  # /proc/<pid>/environ shows the template's, as it began
    return {"session leader": os.getsid(pid) == pid, "cwd": os.readlink(f"/proc/{pid}/cwd").replace(folder, "WORKDIR"),
            "fds": {fd: target.split(":")[0].replace(folder, "WORKDIR") for fd, target in fds.items()},
            "environment": {k: v.replace(folder, "WORKDIR") for k, v in environment.items() if k not in SET_BY_IMPORTS},
            "limits": Path(f"/proc/{pid}/limits").read_text(),
            "status": {field: status[field].strip() for field in STATUS_FIELDS}}


# -- a forked worker is a fresh one ------------------------------------------------------------------------------
@pytest.fixture
def reachable():
    """A scratch folder that another user's worker can reach its own folder in, as grading's is."""
    scratch = Path(tempfile.mkdtemp(prefix="diffchallenge-test-"))
    scratch.chmod(0o711)
    yield scratch
    shutil.rmtree(scratch)


def another_user_can_run_python() -> bool:
    try:
        return subprocess.run([sys.executable, "-c", ""], user=NOBODY, group=NOBODY, extra_groups=[],
                              capture_output=True).returncode == 0
    except OSError:  # not root, or an interpreter under a folder of root's alone
        return False


@pytest.mark.parametrize("user", ["the grader's", pytest.param("another", marks=pytest.mark.skipif(
    not another_user_can_run_python(), reason="no other user can run this interpreter here"))])
def test_a_forked_worker_answers_and_looks_as_a_fresh_one(template, probes, tmp_path, reachable, monkeypatch, user):
    if user == "another":  # as the Docker runner asks
        monkeypatch.setenv(UID_VARIABLES["submission"], str(NOBODY))
        probes = Path(shutil.copy(probes, reachable / "probes.py"))
        probes.chmod(0o644)
    inputs = {"a": torch.arange(4.0), "b": torch.ones(4), "alpha": 0.5}
    seen = {}
    for how in ("fresh", "forked"):
        if how == "fresh":
            monkeypatch.delenv(TEMPLATE_VARIABLE)
        else:
            monkeypatch.setenv(TEMPLATE_VARIABLE, template.address)
        client = worker(tmp_path, probes, scratch=reachable)
        try:
            result = client.call("scaled_sum", **inputs)
            seen[how] = {"result": result["out"].tolist(), "kind": type(client.process).__name__,
                         "parent": parent_of(client.pid), **portrait(client)}
        finally:
            client.stop()
    fresh, forked = seen["fresh"], seen["forked"]
    assert (fresh["kind"], forked["kind"]) == ("Popen", "ForkedWorker")
    assert (fresh["parent"], forked["parent"]) == (os.getpid(), template.pid)
    assert forked["result"] == fresh["result"] == [0.5, 1.5, 2.5, 3.5]
    assert forked["fds"] == fresh["fds"], "only the passed descriptors, at the client's numbers"
    assert [forked["fds"][fd] for fd in (0, 1, 2)] == ["/dev/null", "WORKDIR/worker.log", "WORKDIR/worker.log"]
    assert {kind for fd, kind in forked["fds"].items() if fd > 2} == {"pipe"}, "no socket of the template's"
    for key in ("session leader", "cwd", "environment", "limits", "status"):
        assert forked[key] == fresh[key], key
    assert forked["status"]["Uid"].split()[0] == str(NOBODY if user == "another" else os.getuid())


def test_a_child_that_cannot_become_a_worker_says_why(template, probes, tmp_path):
    requests, replies = os.pipe(), os.pipe()
    worker_read, worker_write = requests[0], replies[1]
    command = [sys.executable, "-I", "-m", WORKER_MODULE, "--submission", str(tmp_path), "--probes", str(probes),
               "--read-fd", str(worker_read), "--write-fd", str(worker_write)]
    try:
        process = spawn_worker(command, cwd=tmp_path / "missing", env={}, log_path=tmp_path / "worker.log",
                               pass_fds=(worker_read, worker_write), user_kwargs={})
        assert isinstance(process, ForkedWorker)
        assert process.wait(timeout=30) == EXIT_NOT_STARTED
    finally:
        for fd in (*requests, *replies):
            os.close(fd)
    assert "the worker could not be started: FileNotFoundError" in (tmp_path / "worker.log").read_text()


def test_a_forked_worker_starts_its_own_thread_pool(template, probes, tmp_path):
    assert len(os.listdir(f"/proc/{template.pid}/task")) == 1, "the template forks single-threaded"
    client = worker(tmp_path, probes, threads=2)
    try:
        reply = client.call("threads")
        assert isinstance(client.process, ForkedWorker)
    finally:
        client.stop()
    assert reply["torch"] == 2 and reply["tasks"] >= 2


@pytest.mark.parametrize(("solution", "message"), [("exits", "worker exited with code 3"),
                                                   ("segfaults", "worker was killed by signal SIGSEGV")])
def test_exit_codes_and_signals_are_told_as_for_a_fresh_worker(template, probes, tmp_path, solution, message):
    client = worker(tmp_path, probes, solution)
    client.start()
    assert isinstance(client.process, ForkedWorker)
    with pytest.raises(WorkerDied, match=message):
        client.call("scaled_sum", a=torch.ones(2), b=torch.ones(2), alpha=1.0)


def test_a_live_forked_worker_times_out_as_popen_does(template, probes, tmp_path):
    client = worker(tmp_path, probes)
    client.start()
    try:
        process = client.process
        assert isinstance(process, ForkedWorker) and process.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)
    finally:
        client.stop()
    assert process.returncode == 0  # it was told to exit, and did


def test_a_session_that_lets_go_of_its_worker_takes_it_with_it(template, probes, tmp_path):
    requests, replies = os.pipe(), os.pipe()  # never written: the worker waits for its first request
    worker_read, worker_write = requests[0], replies[1]
    command = [sys.executable, "-I", "-m", WORKER_MODULE, "--submission", str(tmp_path), "--probes", str(probes),
               "--read-fd", str(worker_read), "--write-fd", str(worker_write)]
    try:
        process = spawn_worker(command, cwd=tmp_path, env={}, log_path=tmp_path / "worker.log",
                               pass_fds=(worker_read, worker_write), user_kwargs={})
        assert isinstance(process, ForkedWorker) and alive(process.pid)
        process.connection.close()  # as the connection of a session that dies is
        assert wait_until(lambda: not alive(process.pid), timeout=10), "the template killed the worker"
    finally:
        for fd in (*requests, *replies):
            os.close(fd)


def test_orphans_a_worker_leaves_are_killed_when_it_ends(template, probes, tmp_path):
    client = worker(tmp_path, probes, sandbox=SANDBOX_OFF)  # the sandbox would not let it fork
    try:
        daemon = client.call("leave_orphan")["daemon"]
        assert wait_until(lambda: parent_of(daemon) == template.pid, timeout=10), "re-parented to the template"
    finally:
        client.stop()
    assert wait_until(lambda: not alive(daemon), timeout=10)


def test_the_sessions_other_children_outlive_its_workers(template, probes, tmp_path):
    """Only orphans are killed: a child the session had before (multiprocessing's fork server, say) lives on."""
    bystander = subprocess.Popen(["sleep", "120"])
    try:
        client = worker(tmp_path, probes)
        client.start()
        client.stop()
        assert bystander.poll() is None and alive(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


# -- only the grader's sessions get workers ----------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ("/bin/sh", "-c", "touch /tmp/pwned"),
    (sys.executable, "-I", "-m", WORKER_MODULE, "--no-such-option"),
    (sys.executable, "-I", "-m", WORKER_MODULE, "--submission", "/s", "--probes", "/p", "--device", "cuda"),
], ids=["not a worker", "arguments a worker refuses", "not the CPU"])
def test_the_template_refuses_what_is_not_a_cpu_worker(template, argv):
    reply = refusal(template.address, argv)
    assert reply is not None and set(reply) == {"refused"}
    assert children_of(template.pid) == set()


def refusal(address: str, argv: tuple[str, ...] = ("/bin/true",)) -> dict | None:
    """The template's answer to a request for ``argv``, with a pipe's two ends as the passed descriptors."""
    read, write = os.pipe()
    try:
        fds = ["--read-fd", str(read), "--write-fd", str(write)] if "--submission" in argv else []
        arguments = [*argv, *fds]
        request = {"argv": arguments, "cwd": "/", "env": {}, "pass_fds": [read, write], "user": None}
        asked = ask_template(address, request, [2, read, write])
    finally:
        os.close(read)
        os.close(write)
    if asked is None:
        return None
    connection, reply = asked
    connection.close()
    return reply


@pytest.mark.parametrize("sandbox", ["best-effort", SANDBOX_OFF])
def test_a_worker_cannot_ask_the_template_for_another(template, probes, tmp_path, sandbox):
    client = worker(tmp_path, probes, sandbox=sandbox)
    try:
        reply = client.call("ask_template", address=template.address)["reply"]
        asker = client.pid
        assert children_of(template.pid) == {asker}
    finally:
        client.stop()
    assert '"pid"' not in reply  # whatever stopped it: the sandbox (no socket at all), or the template
    if sandbox == SANDBOX_OFF:
        assert json.loads(reply) == {"refused": f"a request from process {asker}, which the template started"}


def test_every_preloaded_module_exists():
    missing = [name for name in PRELOAD if importlib.util.find_spec(name) is None]
    assert not missing, missing


# -- without a template, or with a dead one, workers start fresh ------------------------------------------------
def test_a_dead_template_is_passed_over(own_template, probes, tmp_path):
    os.kill(own_template.pid, signal.SIGKILL)  # its socket file stays, with nobody listening
    client = worker(tmp_path, probes)
    try:
        assert client.call("scaled_sum", a=torch.ones(2), b=torch.ones(2), alpha=1.0)["out"].tolist() == [2.0, 2.0]
        assert isinstance(client.process, subprocess.Popen)
    finally:
        client.stop()
    own_template.stop()
    assert not own_template.folder.exists()


def test_a_stuck_template_neither_blocks_nor_breaks_a_session(own_template, probes, tmp_path, monkeypatch):
    monkeypatch.setattr(spawning, "REAP_GRACE_S", 1)
    monkeypatch.setattr(spawning, "ANSWER_TIMEOUT_S", 1)
    client = worker(tmp_path, probes)
    client.start()
    os.kill(own_template.pid, signal.SIGSTOP)  # it can neither reap nor answer
    try:
        started = time.monotonic()
        client.stop()  # its worker exits and stays a zombie: the session gives up on the template
        assert time.monotonic() - started < 10
        client = worker(tmp_path, probes)
        assert client.call("scaled_sum", a=torch.ones(2), b=torch.ones(2), alpha=1.0)["out"].tolist() == [2.0, 2.0]
        assert isinstance(client.process, subprocess.Popen), "a fresh worker, after the template's silence"
    finally:
        client.stop()
        os.kill(own_template.pid, signal.SIGCONT)
    # Woken, it reads the request the session gave up on; the child it forks for it is killed before it runs.
    monkeypatch.setattr(spawning, "ANSWER_TIMEOUT_S", 60)
    assert refusal(own_template.address) is not None, "it answers again"
    assert wait_until(lambda: not children_of(own_template.pid), timeout=10)


def test_an_unreachable_template_is_passed_over(probes, tmp_path, monkeypatch):
    monkeypatch.setenv(TEMPLATE_VARIABLE, str(tmp_path / "no-socket-here"))
    client = worker(tmp_path, probes)
    try:
        client.start()
        assert isinstance(client.process, subprocess.Popen)
    finally:
        client.stop()


# -- nothing left behind -----------------------------------------------------------------------------------------
def test_nothing_is_left_once_the_template_stops(own_template, probes, tmp_path):
    client = worker(tmp_path, probes, "infinite_loop")
    client.start()
    pid = client.pid
    own_template.stop()
    assert not alive(own_template.pid) and not alive(pid)
    assert not own_template.folder.exists()
    client.stop()


def test_nothing_is_left_when_the_grader_crashes(own_template, probes, tmp_path):
    client = worker(tmp_path, probes, "infinite_loop")
    client.start()
    pid = client.pid
    own_template.grader.kill()  # its lifeline closes: the template kills its workers, removes its folder, exits
    own_template.grader.wait()
    assert wait_until(lambda: not alive(own_template.pid) and not alive(pid), timeout=20)
    assert not own_template.folder.exists()
    client.stop()


def grade_batch(tmp_path: Path, solution: str) -> tuple[subprocess.Popen, Path]:
    """`diffchallenge grade-batch` of two toy submissions with a private TMPDIR, so that leftovers can be seen."""
    private = tmp_path / "tmp"
    private.mkdir()
    for student in ("ann", "bob"):
        (tmp_path / "submissions" / student).mkdir(parents=True)
        shutil.copyfile(HOSTILE / f"{solution}.py", tmp_path / "submissions" / student / "solution.py")
    env = {k: v for k, v in os.environ.items() if k not in (TEMPLATE_VARIABLE, NO_TEMPLATE_VARIABLE)}
    env |= {"TMPDIR": str(private), "DIFFCHALLENGE_BANK": str(TOY_BANK)}
    process = subprocess.Popen([BIN / "diffchallenge", "grade-batch", tmp_path / "submissions", "--challenge",
                                "toy-challenge", "--out", tmp_path / "out", "--jobs", "2"], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return process, private


def leftovers(private: Path) -> list[str]:
    # The grader's and the fork server's own `import torch` make an empty torchinductor_root there, template or not.
    return sorted(path.name for path in private.iterdir() if path.name != "torchinductor_root")


def template_of(grader: int) -> int | None:
    for pid in children_of(grader):
        if b"pytest_diffchallenge.worker.template" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    return None


def test_nothing_is_left_after_a_batch(tmp_path):
    process, private = grade_batch(tmp_path, "correct")
    assert wait_until(lambda: template_of(process.pid) is not None, timeout=120)
    template = template_of(process.pid)
    assert process.wait(timeout=300) == 0, process.stderr.read()[-2000:] if process.stderr else ""
    book = json.loads((tmp_path / "out" / "gradebook.json").read_text())["students"]
    assert [row["score"] for row in book] == [6, 6]
    assert template is not None and not alive(template)
    assert leftovers(private) == []


def test_nothing_is_left_after_ctrl_c(tmp_path):
    process, private = grade_batch(tmp_path, "infinite_loop")
    assert wait_until(lambda: (t := template_of(process.pid)) is not None and children_of(t), timeout=120)
    template = template_of(process.pid)
    assert template is not None
    workers = children_of(template)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    assert wait_until(lambda: not alive(template) and not any(alive(pid) for pid in workers), timeout=10)
    assert wait_until(lambda: not leftovers(private), timeout=10), leftovers(private)


def test_a_socket_path_too_long_means_fresh_workers(tmp_path, monkeypatch):
    from diffchallenge.runners.forkserver import ForkServer

    deep = tmp_path / ("x" * 100)
    deep.mkdir()
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr("tempfile.tempdir", None)
    launcher = ForkServer()
    assert launcher.worker_template() is None
    assert list(deep.iterdir()) == [], "the folder of the template that could not start is removed"
