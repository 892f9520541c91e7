"""The Docker runner: hardening options (unit tests, no engine needed) and gradings against a real engine.

Engine tests skip only when no Docker engine is reachable; then the reason says so. In CI, docker/ci-setup.sh
starts dockerd and builds the image first. Hostile submissions are ddim-step solutions, but for the one that
attacks the reference worker (a chunked-attention solution: its public tests time it against the reference);
most are graded with the public tests alone to keep the suite short.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diffchallenge.bank.challenges import get_challenge
from diffchallenge.grading import GradeOptions, GradingError
from diffchallenge.runners import image as docker_image
from diffchallenge.runners.docker import (
    CONTAINER_LABEL,
    KEPT_CAPABILITIES,
    WORKER_UIDS,
    ContainerLimits,
    DockerRunner,
    container_options,
    device_requests,
    docker_client,
    pick_worker_uids,
)
from pytest_diffchallenge import users
from pytest_diffchallenge.verdict import RESULTS_FILE, Reason, Status, Verdict, read_results

docker = pytest.importorskip("docker", reason="the docker Python SDK is not installed")
DDIM = get_challenge("ddim-step")
CHUNKED = get_challenge("chunked-attention")
CLI = [sys.executable, "-m", "diffchallenge.cli"]


def engine_or_reason():
    try:
        return docker_client(), ""
    except GradingError as error:
        return None, str(error)


ENGINE, WHY_NOT = engine_or_reason()
needs_engine = pytest.mark.skipif(ENGINE is None, reason=f"no Docker engine reachable: {WHY_NOT}")


# -- unit tests: no engine ------------------------------------------------------------------------------------
def test_gpu_device_requests():
    assert device_requests(None, "cpu") == []
    everything = device_requests(None, "cuda")
    assert everything[0]["Count"] == -1 and everything[0]["Capabilities"] == [["gpu"]]
    assert device_requests("all", "cpu")[0]["Count"] == -1
    assert device_requests("2", "cuda")[0]["Count"] == 2
    chosen = device_requests("0,3", "cuda")[0]
    assert chosen["DeviceIDs"] == ["0", "3"] and chosen["Capabilities"] == [["gpu"]]


def test_container_options_are_hardened(tmp_path):
    limits = ContainerLimits.for_challenge(DDIM, GradeOptions(threads=2))
    options = container_options(image="diffchallenge:gpu", challenge=DDIM, options=GradeOptions(device="cuda"),
                                limits=limits, submission=tmp_path, gpus=None,
                                worker_uids={"submission": 234567, "reference solution": 245678})
    assert options["network_mode"] == "none" and options["network_disabled"]
    assert options["read_only"] and "/tmp" in options["tmpfs"]
    assert options["cap_drop"] == ["ALL"] and options["cap_add"] == KEPT_CAPABILITIES
    assert options["security_opt"] == ["no-new-privileges"]
    assert options["mem_limit"] == options["memswap_limit"] == DDIM.meta.limits.worker_memory + 2 * 1024**3
    assert options["nano_cpus"] == 2 * 10**9 and options["pids_limit"] == 512
    submission, results = options["mounts"]
    assert submission["ReadOnly"] and submission["Source"] == str(tmp_path) and submission["Type"] == "bind"
    assert results["Target"] == "/results" and results["Type"] == "volume"
    assert options["environment"]["DIFFCHALLENGE_SUBMISSION_UID"] == "234567"
    assert options["environment"]["DIFFCHALLENGE_REFERENCE_UID"] == "245678"
    assert options["command"][0] == "/opt/venv/bin/python" and options["command"][1] == "-I"
    assert options["device_requests"][0]["Count"] == -1  # the challenge runs on cuda: every GPU
    assert "--device" in options["command"] and "cuda" in options["command"]


def test_each_role_gets_its_own_uid():
    for _ in range(50):
        uids = pick_worker_uids()
        assert set(uids) == {"submission", "reference solution"}
        assert uids["submission"] != uids["reference solution"]
        assert all(WORKER_UIDS[0] <= uid < WORKER_UIDS[1] for uid in uids.values())


def test_worker_folders_belong_to_their_own_workers(tmp_path, monkeypatch):
    """Each role's folder goes to its own worker's group alone; the grader keeps owning it (and removing it)."""
    chowned: list[tuple[Path, int, int]] = []  # a real chown to another group needs CAP_CHOWN
    monkeypatch.setattr(os, "chown", lambda path, uid, gid, **kwargs: chowned.append((Path(path), uid, gid)))
    monkeypatch.setenv(users.UID_VARIABLES["submission"], "234567")
    monkeypatch.setenv(users.UID_VARIABLES["reference solution"], "245678")
    uids = {}
    for label in ("submission", "reference solution"):
        chowned.clear()
        workdir = tmp_path / label
        copy = workdir / "submission"
        (copy / "package").mkdir(parents=True)
        (copy / "solution.py").write_text("x = 1\n")
        run_as = users.worker_user(label, workdir)
        uids[label] = run_as["user"]
        assert run_as == {"user": uids[label], "group": uids[label], "extra_groups": []}
        # the group changes, the owner (the grader) stays
        assert sorted(chowned) == sorted((path, -1, uids[label])
                                         for path in (workdir, copy, copy / "package", copy / "solution.py"))
        assert workdir.stat().st_mode & 0o7777 == 0o1770  # sticky: the worker cannot replace the grader's files
        assert (copy / "package").stat().st_mode & 0o7777 == 0o750
        assert (copy / "solution.py").stat().st_mode & 0o7777 == 0o640
    assert uids == {"submission": 234567, "reference solution": 245678}


def test_outside_docker_workers_run_as_the_grader(tmp_path, monkeypatch):
    for variable in users.UID_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    tmp_path.chmod(0o700)
    assert users.worker_user("submission", tmp_path) == {} == users.worker_user("reference solution", tmp_path)
    assert tmp_path.stat().st_mode & 0o7777 == 0o700


def test_limits_come_from_metadata_and_yield_to_overrides():
    derived = ContainerLimits.for_challenge(DDIM, GradeOptions(threads=3))
    assert derived.cpus == 3 and derived.wall_clock_s > DDIM.meta.limits.timeout_s
    overridden = ContainerLimits.for_challenge(DDIM, GradeOptions(), memory="1 GiB", cpus=0.5, pids=64,
                                               wall_clock_s=20)
    assert (overridden.memory, overridden.cpus, overridden.pids, overridden.wall_clock_s) == (1024**3, 0.5, 64, 20)


def test_stale_image_is_refused_with_how_to_rebuild():
    labels = docker_image.expected_labels()
    docker_image.check_labels(labels, "diffchallenge:cpu", "cpu")
    with pytest.raises(docker_image.ImageError, match=r"is stale.*diffchallenge image build --cpu"):
        docker_image.check_labels({**labels, docker_image.LABEL_HASH: "0" * 64}, "diffchallenge:cpu", "cpu")
    with pytest.raises(docker_image.ImageError, match="holds no hidden tests"):
        docker_image.check_labels(docker_image.expected_labels(public_only=True), "diffchallenge:cpu", "cpu")


def test_unreachable_engine_is_an_infrastructure_error(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}
    process = subprocess.run([*CLI, "grade", str(DDIM.reference_dir), "--challenge", "ddim-step", "--out",
                              str(tmp_path / "out"), "--runner", "docker"], env=env, capture_output=True, text=True)
    assert process.returncode == 3, process.stderr
    assert "cannot reach the Docker engine" in process.stderr and "--runner local" in process.stderr
    assert not (tmp_path / "out" / "results.json").exists()


# -- against the engine ---------------------------------------------------------------------------------------
SNOOP = '''
import json, os, socket, tempfile
from diffusers import DDIMScheduler

def attempt(action):
    try:
        result = action()
        return "ALLOWED: " + str(result)[:80]
    except Exception as error:
        return f"denied: {type(error).__name__}: {error}"

def caps():
    return next(l for l in open("/proc/self/status") if l.startswith("CapEff")).split()[1]

def report():
    hidden = "/opt/diffchallenge/solutions/ddim-step/test_hidden.py"
    return {
        "uid": os.getuid(), "capabilities": caps(),
        "network": attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=3)),
        "dns": attempt(lambda: socket.getaddrinfo("pypi.org", 443)),
        "write results": attempt(lambda: open("/results/results.json", "w").write("{}")),
        "new file in results": attempt(lambda: open("/results/forged.json", "w").write("{}")),
        "hidden tests": attempt(lambda: open(hidden).read()),
        "reference": attempt(lambda: open("/opt/diffchallenge/solutions/ddim-step/solution.py").read()),
        "list solutions": attempt(lambda: os.listdir("/opt/diffchallenge/solutions")),
        "grader's descriptors": attempt(lambda: os.listdir(f"/proc/{os.getppid()}/fd")),
        "signal the grader": attempt(lambda: os.kill(os.getppid(), 0)),
        "root filesystem": attempt(lambda: open("/opt/planted", "w").write("x")),
        "tmp": attempt(lambda: open("/tmp/planted", "w").write("x")),
        "list tmp": attempt(lambda: os.listdir("/tmp")),
        "list scratch": attempt(lambda: os.listdir(os.path.dirname(os.getcwd()))),
        "session file": attempt(lambda: open("/results/.session.json").read()),
        "grader log": attempt(lambda: open("/results/grader.log").read()),
        "replace its log": attempt(lambda: os.rename("worker.log", "moved.log")),
        "own folder": attempt(lambda: tempfile.mkstemp()),  # TMPDIR: the worker's one writable place
    }

class CustomDDIMScheduler(DDIMScheduler):
    def step(self, *args, **kwargs):
        raise RuntimeError("REPORT " + json.dumps(report()))
'''

FORK_BOMB = '''
import os, time
from diffusers import DDIMScheduler

class CustomDDIMScheduler(DDIMScheduler):
    def step(self, *args, **kwargs):
        children = 0
        try:
            while True:
                if os.fork() == 0:
                    time.sleep(600)
                    os._exit(0)
                children += 1
        except OSError as error:
            raise RuntimeError(f"fork bomb stopped after {children} processes: {error}")
'''

MEMORY_BOMB = '''
import torch
from diffusers import DDIMScheduler

class CustomDDIMScheduler(DDIMScheduler):
    def step(self, *args, **kwargs):
        if self.config.prediction_type != "epsilon":  # one blow-up is enough: the other tests fail fast
            raise NotImplementedError("no")
        hoard = []
        while True:
            hoard.append(torch.ones(16 * 1024**2))  # 64 MiB, touched
'''

CRASHES = '''
import ctypes, os
from diffusers import DDIMScheduler

class CustomDDIMScheduler(DDIMScheduler):
    def step(self, model_output, timestep, sample, eta=0.0, **kwargs):
        if eta:
            ctypes.string_at(0)  # segfault
        os._exit(3)
'''

INFINITE_LOOP = '''
from diffusers import DDIMScheduler

class CustomDDIMScheduler(DDIMScheduler):
    def step(self, *args, **kwargs):
        while True:
            pass
'''

# Appended to the chunked-attention reference: a correct solution that, the first time it runs, finds the
# reference worker in /proc and goes for it. Its report fails that one test; the others run as usual.
ATTACK_THE_REFERENCE = '''
import json, os, signal

def attempt(action):
    try:
        return "ALLOWED: " + str(action())[:80]
    except Exception as error:
        return f"denied: {type(error).__name__}: {error}"

def reference_worker():
    """The other worker's pid and the copy it runs, from its command line."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                argv = open(f"/proc/{entry}/cmdline", "rb").read().decode().split("\\0")
            except OSError:
                continue
            if "pytest_diffchallenge.worker" in argv:
                return int(entry), argv[argv.index("--submission") + 1]
    return None, None

def stop_then_resume(pid):
    os.kill(pid, signal.SIGSTOP)
    os.kill(pid, signal.SIGCONT)  # had it worked, a stopped reference would only slow this test down

def attack():
    try:
        pid, copy = reference_worker()
    except Exception as error:
        return {"found": f"denied: {type(error).__name__}: {error}"}
    if pid is None:
        return {"found": "nothing"}
    return {
        "found": pid,
        "read its solution": attempt(lambda: open(os.path.join(copy, "solution.py")).read()),
        "list its folder": attempt(lambda: os.listdir(os.path.dirname(copy))),
        "its environment": attempt(lambda: open(f"/proc/{pid}/environ").read()),
        "its working directory": attempt(lambda: os.readlink(f"/proc/{pid}/cwd")),
        "SIGSTOP it": attempt(lambda: stop_then_resume(pid)),
        "kill it": attempt(lambda: os.kill(pid, signal.SIGKILL)),
    }

HonestProcessor = ChunkedAttnProcessor
reported = False

class ChunkedAttnProcessor(HonestProcessor):
    def __call__(self, *args, **kwargs):
        global reported
        if not reported:
            reported = True
            raise RuntimeError("REPORT " + json.dumps(attack()))
        return super().__call__(*args, **kwargs)
'''


def submission(tmp_path: Path, name: str, source: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "solution.py").write_text(source)
    return folder


def leftover_containers() -> list:
    return ENGINE.containers.list(all=True, filters={"label": CONTAINER_LABEL})


@pytest.fixture(scope="module")
def runner():
    runner = DockerRunner()
    runner.check_image("diffchallenge:cpu", "cpu")  # a missing or stale image fails here, saying how to rebuild
    yield runner
    assert leftover_containers() == [], "a grading container was left behind"


def grade(runner, folder: Path, out: Path, public_only: bool = True) -> Verdict:
    verdict = runner.grade(DDIM, folder, out, GradeOptions(threads=1, public_only=public_only))
    assert isinstance(verdict, Verdict)
    # a runner only returns the verdict: results.json and the reports are the front end's to write
    assert not (out / RESULTS_FILE).exists() and (out / "grader.log").is_file()
    return verdict


def messages(verdict: Verdict) -> list[str]:
    return [test.message for test in verdict.tests]


@pytest.fixture(scope="module")
def mixed_batch(runner, tmp_path_factory):
    """One `grade-batch --runner docker` over the reference, the starter and a submission that does not parse."""
    root = tmp_path_factory.mktemp("batch")
    submissions = root / "submissions"
    submissions.mkdir()
    shutil.copytree(DDIM.reference_dir, submissions / "ada", ignore=shutil.ignore_patterns("mutants.toml"))
    shutil.copyfile(DDIM.starter, submissions / "bob.py")
    (submissions / "cyd.py").write_text("def broken(:\n")
    process = subprocess.run([*CLI, "grade-batch", str(submissions), "--challenge", "ddim-step", "--out",
                              str(root / "out"), "--jobs", "2", "--runner", "docker"],
                             capture_output=True, text=True, timeout=1200)
    verdicts = {name: read_results(root / "out" / name / RESULTS_FILE)  # validated as a verdict
                for name in ("ada", "bob", "cyd") if (root / "out" / name / RESULTS_FILE).is_file()}
    return process, root / "out", verdicts


@needs_engine
def test_mixed_batch_finishes(mixed_batch):
    process, out, _ = mixed_batch
    assert process.returncode == 0, process.stderr[-3000:]
    rows = {row["student"]: row for row in json.loads((out / "gradebook.json").read_text())["students"]}
    assert sorted(rows) == ["ada", "bob", "cyd"]
    assert all(row["status"] == "graded" for row in rows.values()), rows
    assert rows["cyd"]["score"] == 0 and "SyntaxError" in messages(mixed_batch[2]["cyd"])[0]
    assert leftover_containers() == []


@needs_engine
def test_reference_full_marks_and_starter_zero(mixed_batch):
    reference, starter = mixed_batch[2]["ada"], mixed_batch[2]["bob"]
    assert reference.status == "graded" and reference.score == reference.max_score == DDIM.meta.points
    assert any(t.visibility == "hidden" and t.hidden for t in reference.tests)
    assert all(t.status is Status.PASSED and t.reason is None for t in reference.tests)
    assert reference.runner["kind"] == "docker" and reference.runner["image"] == "diffchallenge:cpu"
    assert starter.status == "graded" and starter.score == 0 and starter.tests
    assert all("not implemented yet" in message for message in messages(starter))
    assert all(t.status is Status.FAILED and t.reason is Reason.NOT_IMPLEMENTED for t in starter.tests)


@needs_engine
def test_a_challenge_with_native_dependencies_grades_in_the_image(runner, tmp_path):
    """invisible-watermark's OpenCV (headless in the image: its GUI build needs libGL) and PyWavelets load in a
    container: its reference passes the public tests there."""
    challenge = get_challenge("invisible-watermark")
    verdict = runner.grade(challenge, challenge.reference_dir, tmp_path / "out",
                           GradeOptions(threads=1, public_only=True))
    assert verdict.status == "graded" and verdict.tests and verdict.score == verdict.max_score, \
        [test.message for test in verdict.tests if test.message]


@needs_engine
def test_hostile_worker_is_confined(runner, tmp_path):
    verdict = grade(runner, submission(tmp_path, "snoop", SNOOP), tmp_path / "out")
    assert verdict.status == "graded" and verdict.score == 0 and verdict.tests
    report = json.loads(messages(verdict)[0].split("REPORT ", 1)[1].splitlines()[0])
    allowed = {key: value for key, value in report.items() if str(value).startswith("ALLOWED")}
    assert set(allowed) == {"own folder"}, f"the candidate's worker could: {allowed}"
    # no network; where the worker's seccomp filter holds, it refuses the socket before the network is missed
    assert "Network is unreachable" in report["network"] or "Operation not permitted" in report["network"], \
        report["network"]
    assert "denied" in report["dns"]
    assert "Permission denied" in report["write results"] and "Permission denied" in report["new file in results"]
    assert "Permission denied" in report["hidden tests"] and "Permission denied" in report["reference"]
    assert "Permission denied" in report["list solutions"], report["list solutions"]
    assert "Read-only file system" in report["root filesystem"]
    for key in ("tmp", "list tmp", "list scratch", "session file", "grader log"):
        assert "Permission denied" in report[key], report[key]
    assert "Operation not permitted" in report["replace its log"]  # the sticky bit
    assert report["uid"] >= 200_000 and report["capabilities"] == "0000000000000000"
    # the worker's writes to /results were refused, and the verdict is the grader's: every test failed, none forged
    assert all(t.status is Status.FAILED for t in verdict.tests), "the verdict is not the grader's"
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["grader.log"]


@needs_engine
def test_worker_cannot_read_or_signal_the_reference_worker(runner, tmp_path):
    """During a grading that times the submission against the reference, each in its own worker."""
    source = (CHUNKED.reference_dir / "solution.py").read_text() + ATTACK_THE_REFERENCE
    verdict = runner.grade(CHUNKED, submission(tmp_path, "attack", source), tmp_path / "out",
                           GradeOptions(threads=1, public_only=True))
    assert verdict.status == "graded" and not verdict.errors, verdict.errors
    reports = [message.split("REPORT ", 1)[1].splitlines()[0] for message in messages(verdict) if "REPORT " in message]
    assert len(reports) == 1, messages(verdict)
    report = json.loads(reports[0])
    # The uids keep it out; where the worker's own sandbox hides /proc already, it does not even get that far.
    if isinstance(report["found"], int):
        allowed = {key: value for key, value in report.items() if str(value).startswith("ALLOWED")}
        assert not allowed, f"the candidate's worker could: {allowed}"
        for key in ("read its solution", "list its folder", "its environment", "its working directory"):
            assert "Permission denied" in report[key], report
        for key in ("SIGSTOP it", "kill it"):
            assert "Operation not permitted" in report[key], report
    else:
        assert report["found"].startswith("denied") or report["found"] == "nothing", report
    # The reference ran undisturbed: the timed test passed against real figures, and so did every other test.
    timed = next(t for t in verdict.tests if t.name == "test_runtime_against_reference")
    assert timed.status is Status.PASSED, timed
    assert timed.figures["reference_ms"] > 0 and 0.33 < timed.figures["runtime_ratio"] < 3, timed.figures
    assert [t.status for t in verdict.tests].count(Status.FAILED) == 1, [(t.name, t.status) for t in verdict.tests]


@needs_engine
def test_exit_and_segfault_are_failures(runner, tmp_path):
    verdict = grade(runner, submission(tmp_path, "crashes", CRASHES), tmp_path / "out")
    assert verdict.status == "graded" and verdict.score == 0
    tests = {t.name: t for t in verdict.tests}
    assert "worker exited with code 3" in tests["test_deterministic_step[epsilon]"].message
    assert "killed by signal SIGSEGV" in tests["test_stochastic_step_with_variance_noise"].message
    for name in ("test_deterministic_step[epsilon]", "test_stochastic_step_with_variance_noise"):
        assert tests[name].status is Status.FAILED and tests[name].reason is Reason.CRASHED, tests[name]


@needs_engine
def test_fork_bomb_is_contained(tmp_path):
    runner = DockerRunner(pids=128)
    verdict = grade(runner, submission(tmp_path, "fork", FORK_BOMB), tmp_path / "out")
    assert verdict.status == "graded" and verdict.score == 0
    first = messages(verdict)[0]
    # the pids limit stops it; where the worker's seccomp filter holds, no fork gets that far
    assert "fork bomb stopped after" in first, first
    assert "Resource temporarily unavailable" in first or "Operation not permitted" in first, first
    assert int(first.split("stopped after ")[1].split()[0]) < 128
    assert leftover_containers() == []


@needs_engine
def test_memory_bomb_is_killed_with_a_clear_message(tmp_path):
    runner = DockerRunner(memory="2 GiB")
    verdict = grade(runner, submission(tmp_path, "memory", MEMORY_BOMB), tmp_path / "out")
    assert verdict.status == "graded" and verdict.score == 0
    # the kernel's SIGKILL alone would read "crashed": the container's OOM flag makes it "over memory"
    over = [t for t in verdict.tests if t.reason is Reason.OVER_MEMORY]
    assert over and all(t.status is Status.FAILED for t in over), [(t.name, t.reason) for t in verdict.tests]
    assert "container reached its memory limit of 2048.00 MiB" in over[0].message, over[0].message
    assert not [t for t in verdict.tests if t.reason is Reason.CRASHED]
    assert verdict.runner["kind"] == "docker" and verdict.runner["limits"]["memory"] == 2 * 1024**3


@needs_engine
def test_infinite_loop_hits_the_wall_clock_and_the_container_goes(tmp_path):
    runner = DockerRunner(wall_clock_s=25)
    started = time.monotonic()
    verdict = grade(runner, submission(tmp_path, "loop", INFINITE_LOOP), tmp_path / "out")
    assert time.monotonic() - started < 90
    # as a local session that overruns: the container's partial verdict, each unfinished test failed as timed out
    assert verdict.status == "graded" and verdict.score == 0 and not verdict.errors and not verdict.unfinished
    assert verdict.max_score > 0 and verdict.tests  # the public tests, all of them: none left out
    assert all(t.status is Status.FAILED and t.reason is Reason.TIMED_OUT for t in verdict.tests), \
        [(t.name, t.status, t.reason) for t in verdict.tests]
    stopped = [t for t in verdict.tests if "ran past its 25 s limit" in t.message]
    assert stopped, messages(verdict)  # DDIM's per-test limit is 30 s: the container's 25 s clock stopped them
    assert verdict.runner["kind"] == "docker" and verdict.runner["limits"]["wall_clock_s"] == 25
    assert not (tmp_path / "out" / ".session.json").exists()  # read once, then removed
    assert leftover_containers() == []


@needs_engine
def test_ctrl_c_leaves_no_container(tmp_path):
    folder = submission(tmp_path, "loop", INFINITE_LOOP)
    process = subprocess.Popen([*CLI, "grade", str(folder), "--challenge", "ddim-step", "--out", str(tmp_path / "o"),
                                "--runner", "docker", "--public-only"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               # as from a terminal: a shell's background job would pass SIGINT on ignored
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not leftover_containers():
        assert time.monotonic() < deadline and process.poll() is None, process.stdout.read().decode()
        time.sleep(0.5)
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    assert leftover_containers() == []


@needs_engine
def test_cli_refuses_a_stale_image(tmp_path):
    stale = "diffchallenge:stale-test"
    ENGINE.images.build(fileobj=__import__("io").BytesIO(
        f"FROM diffchallenge:cpu\nLABEL {docker_image.LABEL_HASH}=0000\n".encode()), tag=stale, rm=True)
    try:
        process = subprocess.run([*CLI, "grade", str(DDIM.reference_dir), "--challenge", "ddim-step", "--out",
                                  str(tmp_path / "out"), "--runner", "docker", "--image", stale],
                                 capture_output=True, text=True)
    finally:
        ENGINE.images.remove(stale)
    assert process.returncode == 3
    assert "is stale" in process.stderr and "diffchallenge image build --cpu" in process.stderr
