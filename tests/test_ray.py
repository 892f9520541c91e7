"""grade-batch --backend ray on a real Ray cluster on loopback: a head and other nodes, each its own `ray start`.

The cluster lives for the module and is always torn down: each node is one `ray start --block` process of ours,
killed with its whole process tree (raylet, Ray workers and the gradings they run), the way a machine is lost.
Its temporary folder (sockets, logs, the object store's files) is ours too, and removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import DOCKER_SKIP, HOSTILE, TOY_BANK, TOY_IMAGE

from pytest_diffchallenge.processes import kill_tree
from pytest_diffchallenge.verdict import RESULTS_FILE, read_results

pytest.importorskip("ray")

BIN = Path(sys.executable).parent
SOLUTIONS = {"correct": (HOSTILE / "correct.py").read_text(), "half_right": (HOSTILE / "half_right.py").read_text()}
# Prints the live nodes once there are as many as asked: [{"id": ..., "resources": {...}}].
NODES_SCRIPT = """
import json, sys, time, ray
ray.init(address=sys.argv[1], log_to_driver=False, logging_level="ERROR")
deadline = time.monotonic() + 60
while True:
    nodes = [n for n in ray.nodes() if n["Alive"]]
    if len(nodes) == int(sys.argv[2]) or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print(json.dumps([{"id": n["NodeID"], "resources": n["Resources"]} for n in nodes]))
"""
# A lost node is noticed within seconds (Ray's defaults take half a minute).
FAST_HEALTH_CHECKS = {"RAY_health_check_initial_delay_ms": "1000", "RAY_health_check_period_ms": "1000",
                      "RAY_health_check_timeout_ms": "1000", "RAY_health_check_failure_threshold": "3"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    def __init__(self, root: Path, bank: Path):
        self.root, self.bank = root, bank
        self.address = f"127.0.0.1:{free_port()}"
        self.nodes: dict[str, subprocess.Popen] = {}
        self.ids: dict[str, str] = {}

    def environment(self, bank: Path | None = None) -> dict[str, str]:
        # HOME: Ray keeps its authentication token in ~/.ray; this cluster's is its own, whatever an earlier
        # cluster on this machine left there.
        return {**os.environ, **FAST_HEALTH_CHECKS, "DIFFCHALLENGE_BANK": str(bank or self.bank),
                "TMPDIR": str(self.root), "HOME": str(self.root / "home"), "RAY_USAGE_STATS_ENABLED": "0"}

    def start(self, name: str, *, gpus: int = 0, bank: Path | None = None) -> str:
        """Start a node with one CPU (and ``gpus`` declared GPUs, real or not); return its Ray node id."""
        if name in self.nodes:
            return self.ids[name]
        head = not self.nodes
        where = ["--head", "--port", self.address.split(":")[1], "--include-dashboard", "false"] if head else \
            ["--address", self.address]
        # Same temp dir for every node, as on one machine; the object store's files live there, not in /dev/shm.
        # Free ports for what would listen on a fixed one: several nodes share this machine, and CI's.
        command = [BIN / "ray", "start", "--block", *where,
                   "--dashboard-agent-listen-port", str(free_port()), "--num-cpus", "1",
                   "--num-gpus", str(gpus), "--resources", json.dumps({name: 1}), "--temp-dir", self.root,
                   "--plasma-directory", self.root, "--object-store-memory", str(100 * 1024**2),
                   "--disable-usage-stats"]
        with (self.root / f"{name}.log").open("w") as log:
            self.nodes[name] = subprocess.Popen([str(part) for part in command], env=self.environment(bank),
                                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.wait_for_nodes()
        return self.ids[name]

    def wait_for_nodes(self) -> None:
        found = subprocess.run([sys.executable, "-c", NODES_SCRIPT, self.address, str(len(self.nodes))],
                               env=self.environment(), capture_output=True, text=True, timeout=90)
        assert found.returncode == 0, found.stderr[-3000:]
        nodes = json.loads(found.stdout.splitlines()[-1])
        assert len(nodes) == len(self.nodes), (nodes, self.logs())
        self.ids = {name: node["id"] for node in nodes for name in self.nodes if name in node["resources"]}

    def kill(self, name: str, *, noticed: bool = True) -> None:
        """Lose a node at once: its `ray start`, raylet, Ray workers and their gradings."""
        process = self.nodes.pop(name)
        kill_tree(process.pid)
        process.wait(30)
        if noticed and self.nodes:
            self.wait_for_nodes()  # until the head has seen it go

    def logs(self) -> str:
        return "\n".join(f"{log.name}: {log.read_text()[-1500:]}" for log in self.root.glob("*.log"))

    def grade_batch(self, submissions: Path, out: Path, *arguments: str, wait: bool = True):
        command = [BIN / "diffchallenge", "grade-batch", submissions, "--challenge", "toy-challenge", "--out", out,
                   *arguments]
        process = subprocess.Popen([str(part) for part in command], env=self.environment(), text=True,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return finished(process) if wait else process


def finished(process: subprocess.Popen) -> tuple[int, str]:
    output, errors = process.communicate(timeout=240)
    return process.returncode, " ".join((output + errors).split())  # rich wraps lines: compare words


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # Short: Ray's socket paths under it must fit in 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="r", dir=os.environ.get("TMPDIR")))
    bank = tmp_path_factory.mktemp("bank")
    for part in ("challenges", "solutions"):
        shutil.copytree(TOY_BANK / part / "toy-challenge", bank / part / "toy-challenge",
                        ignore=shutil.ignore_patterns("__pycache__"))
    metadata = bank / "challenges" / "toy-challenge" / "challenge.toml"
    metadata.write_text(metadata.read_text().replace("timeout_s = 5", "timeout_s = 60"))  # a loaded machine
    cluster = Cluster(root, bank)
    try:
        cluster.start("head")
        yield cluster
    finally:
        for name in reversed(list(cluster.nodes)):
            cluster.kill(name, noticed=False)
        shutil.rmtree(root, ignore_errors=True)


def make_submissions(folder: Path, count: int) -> Path:
    """``count`` students, alternately right (6 points) and right on the public inputs only (3 points)."""
    kinds = list(SOLUTIONS)
    for index in range(count):
        (folder / f"student{index}").mkdir(parents=True)
        (folder / f"student{index}" / "solution.py").write_text(SOLUTIONS[kinds[index % 2]])
    return folder


def graded_on(out: Path, student: str) -> str:
    """The id of the node that graded the student: from results.json, else from the error it reported."""
    results = out / student / RESULTS_FILE
    if results.is_file():
        return read_results(results).runner["ray_node"]["node_id"]
    message = json.loads((out / student / "outcome.json").read_text())["message"]
    return re.search(r"id ([0-9a-f]{12})", message).group(1)


def gradebook(out: Path) -> dict[str, dict]:
    rows = json.loads((out / "gradebook.json").read_text())["students"]
    assert len(rows) == len({row["student"] for row in rows}), "a student has two rows"
    return {row["student"]: row for row in rows}


# These two start clusters of their own: they run before the module's cluster is up.
def test_without_an_address_ray_starts_here_for_the_batch_and_leaves_nothing(tmp_path):
    scratch = Path(tempfile.mkdtemp(prefix="r", dir=os.environ.get("TMPDIR")))  # short: Ray's socket paths
    try:
        (scratch / "home").mkdir()
        environment = {**os.environ, "DIFFCHALLENGE_BANK": str(TOY_BANK), "TMPDIR": str(scratch),
                       "HOME": str(scratch / "home"), "RAY_USAGE_STATS_ENABLED": "0"}
        process = subprocess.Popen(
            [str(BIN / "diffchallenge"), "grade-batch", str(make_submissions(tmp_path / "submissions", 2)),
             "--challenge", "toy-challenge", "--out", str(tmp_path / "out"), "--backend", "ray"],
            env=environment, text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        code, output = finished(process)
        assert code == 0, output
        assert {name: row["score"] for name, row in gradebook(tmp_path / "out").items()} == {
            "student0": 6, "student1": 3}
        time.sleep(1)  # Ray's last processes take a moment to go
        left = subprocess.run(["pgrep", "-af", str(scratch)], capture_output=True, text=True).stdout
        assert not left, f"still running: {left}"
        assert sorted(os.listdir(scratch)) == ["home"], "Ray's session and its workers' folders are removed"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.skipif(not TOY_IMAGE, reason=DOCKER_SKIP)
def test_with_runner_docker_a_node_grades_in_the_hardened_container(tmp_path):
    root = Path(tempfile.mkdtemp(prefix="r", dir=os.environ.get("TMPDIR")))
    cluster = Cluster(root, TOY_BANK)  # the image's own bank: its identity labels must match
    try:
        node = cluster.start("head")
        code, output = cluster.grade_batch(make_submissions(tmp_path / "submissions", 2), tmp_path / "out",
                                           "--backend", "ray", "--address", cluster.address, "--runner", "docker",
                                           "--image", TOY_IMAGE)
        assert code == 0, output + cluster.logs()
        assert {name: row["score"] for name, row in gradebook(tmp_path / "out").items()} == {
            "student0": 6, "student1": 3}
        runner = read_results(tmp_path / "out" / "student0" / RESULTS_FILE).runner
        assert (runner["kind"], runner["image"], runner["ray_node"]["node_id"]) == ("docker", TOY_IMAGE, node)
    finally:
        for name in reversed(list(cluster.nodes)):
            cluster.kill(name, noticed=False)
        shutil.rmtree(root, ignore_errors=True)


def test_a_batch_is_spread_over_both_nodes(cluster, tmp_path):
    ids = {cluster.start("head"), cluster.start("second", gpus=1)}
    submissions = make_submissions(tmp_path / "submissions", 4)
    code, output = cluster.grade_batch(submissions, tmp_path / "out", "--backend", "ray", "--address",
                                       cluster.address)
    assert code == 0, output + cluster.logs()
    book = gradebook(tmp_path / "out")
    assert {name: row["score"] for name, row in book.items()} == {
        f"student{i}": 6 if i % 2 == 0 else 3 for i in range(4)}
    assert {graded_on(tmp_path / "out", student) for student in book} == ids, "each node graded someone"

    code, output = cluster.grade_batch(submissions, tmp_path / "out", "--backend", "ray", "--address",
                                       cluster.address)
    assert code == 0 and output.count("(already graded: skipped)") == 4, output


def test_a_gpu_grading_goes_only_where_a_gpu_is_declared(cluster, tmp_path):
    cluster.start("head")
    second = cluster.start("second", gpus=1)  # a declared GPU, not a real one: the grading itself then fails
    submissions = make_submissions(tmp_path / "submissions", 2)
    code, output = cluster.grade_batch(submissions, tmp_path / "out", "--backend", "ray", "--address",
                                       cluster.address, "--device", "cuda")
    assert code in (0, 3) and len(gradebook(tmp_path / "out")) == 2, output  # graded, or failed for lack of CUDA
    assert {graded_on(tmp_path / "out", student)[:12] for student in gradebook(tmp_path / "out")} == {second[:12]}


def test_a_node_lost_mid_batch_has_its_tasks_graded_elsewhere(cluster, tmp_path):
    cluster.start("head")
    second = cluster.start("second", gpus=1)
    submissions = make_submissions(tmp_path / "submissions", 6)
    code, output = finished(subprocess.Popen(
        [str(BIN / "diffchallenge"), "grade-batch", str(submissions), "--challenge", "toy-challenge", "--out",
         str(tmp_path / "local"), "--jobs", "2"], env=cluster.environment(), text=True, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    assert code == 0, output
    local = {name: row["score"] for name, row in gradebook(tmp_path / "local").items()}

    out = tmp_path / "out"
    batch = cluster.grade_batch(submissions, out, "--backend", "ray", "--address", cluster.address, wait=False)
    deadline = time.monotonic() + 180
    while not any(graded_on(out, path.parent.name) == second for path in out.glob(f"*/{RESULTS_FILE}")):
        assert batch.poll() is None and time.monotonic() < deadline, finished(batch)
        time.sleep(0.2)
    cluster.kill("second")
    code, output = finished(batch)
    assert code == 0, output + cluster.logs()
    book = gradebook(out)
    assert {name: row["score"] for name, row in book.items()} == local
    assert all(row["status"] == "graded" for row in book.values())
    assert "6 graded, 0 refused, 0 infrastructure errors" in output


def test_a_gpu_grading_without_a_gpu_node_fails_clearly(cluster, tmp_path):
    if "second" in cluster.nodes:
        cluster.kill("second")
    code, output = cluster.grade_batch(make_submissions(tmp_path / "submissions", 1), tmp_path / "out",
                                       "--backend", "ray", "--address", cluster.address, "--device", "cuda")
    assert code == 3, output
    assert "no node of the Ray cluster can run a grading" in output and "GPU 1" in output
    assert "--num-gpus" in output
    assert not (tmp_path / "out" / "student0" / RESULTS_FILE).exists()


def test_a_node_with_another_bank_refuses_the_work(cluster, tmp_path):
    stale_bank = tmp_path / "stale-bank"
    shutil.copytree(cluster.bank, stale_bank)
    hidden = stale_bank / "solutions" / "toy-challenge" / "test_hidden.py"
    hidden.write_text(hidden.read_text() + "\n# edited after this node was set up\n")
    stale = cluster.start("stale", bank=stale_bank)
    try:
        code, output = cluster.grade_batch(make_submissions(tmp_path / "submissions", 2), tmp_path / "out",
                                           "--backend", "ray", "--address", cluster.address)
    finally:
        cluster.kill("stale")
    assert code == 3, output
    assert f"id {stale[:12]}) refuses the work: stale kit" in output, output
    assert cluster.ids["head"][:12] not in output, "only the stale node is named"
    assert not any((tmp_path / "out").glob(f"*/{RESULTS_FILE}")), "nothing was graded"

