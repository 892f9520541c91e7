"""grade-batch on Ray against the local pool, on ddim-step: one batch, the same two gradings at a time each way.

The submissions alternate the reference and its mutants (``batch_grading.make_submissions``). They are graded by
the local pool (``--jobs 2``, one thread each), then by ``--backend ray`` on a one-node Ray cluster (2 CPUs) and
on a two-node one (1 CPU each), both started here on loopback before timing (a standing cluster, as in a class),
and by ``--backend ray`` without ``--address`` (Ray started by the command: its start-up is in the figure).
Prints wall time, submissions per minute, the seconds per submission over the local pool's (Ray's overhead per
task) and the mean grading time a task reports; checks that the references score full marks everywhere.

    .venv/bin/python benchmarks/ray_grading.py --count 50
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batch_grading import CLI, SLUG, make_submissions, run

from diffchallenge.bank.challenges import get_challenge
from pytest_diffchallenge.processes import kill_tree

RAY = Path(sys.executable).parent / "ray"
WAIT_NODES = """
import sys, time, ray
ray.init(address=sys.argv[1], log_to_driver=False, logging_level="ERROR")
while len([n for n in ray.nodes() if n["Alive"]]) < int(sys.argv[2]):
    time.sleep(0.5)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_cluster(root: Path, cpus_per_node: list[int], nodes: list[subprocess.Popen]) -> str:
    """Nodes of this machine, each a `ray start --block` of ours put in ``nodes`` (the caller kills them); the
    object store's files under ``root``."""
    address = f"127.0.0.1:{free_port()}"
    for index, cpus in enumerate(cpus_per_node):
        where = ["--head", "--port", address.split(":")[1], "--include-dashboard", "false"] if index == 0 else \
            ["--address", address]
        nodes.append(subprocess.Popen(
            [str(RAY), "start", "--block", *where, "--num-cpus", str(cpus),
             "--dashboard-agent-listen-port", str(free_port()),
             "--temp-dir", str(root), "--plasma-directory", str(root), "--disable-usage-stats"],
            env=cluster_environment(root), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
        subprocess.run([sys.executable, "-c", WAIT_NODES, address, str(index + 1)], env=cluster_environment(root),
                       check=True, timeout=300)
    return address


def cluster_environment(root: Path) -> dict[str, str]:
    """HOME under ``root``: Ray keeps its authentication token in ~/.ray, and this cluster's is its own."""
    return {**os.environ, "HOME": str(root / "home")}


def grade(submissions: Path, out: Path, *arguments: str, environment: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    run(CLI + ["grade-batch", str(submissions), "--challenge", SLUG, "--out", str(out), *arguments], environment)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="number of submissions (default: %(default)s)")
    args = parser.parse_args()
    rows: list[tuple[str, float, Path]] = []
    with tempfile.TemporaryDirectory(prefix="diffchallenge-bench-") as workdir:
        work = Path(workdir)
        submissions = work / "submissions"
        kinds = make_submissions(submissions, args.count)
        print(f"{args.count} submissions of {SLUG}: {sum(k == 'reference' for k in kinds.values())} reference, "
              f"{sum(k != 'reference' for k in kinds.values())} mutants; {os.cpu_count()} cores", flush=True)
        rows.append(("local pool, --jobs 2", grade(submissions, work / "local", "--jobs", "2"), work / "local"))
        for name, cpus, out in (("Ray, one node (2 CPUs)", [2], work / "ray-one"),
                                ("Ray, two nodes (1 CPU each)", [1, 1], work / "ray-two")):
            root = Path(tempfile.mkdtemp(prefix="r"))  # short: Ray's socket paths must fit in 107 bytes
            nodes: list[subprocess.Popen] = []
            try:
                address = start_cluster(root, cpus, nodes)
                rows.append((name, grade(submissions, out, "--backend", "ray", "--address", address,
                                         environment=cluster_environment(root)), out))
            finally:
                for node in reversed(nodes):
                    kill_tree(node.pid)
                    node.wait(30)
                shutil.rmtree(root, ignore_errors=True)
            print(f"{name} done", flush=True)
        out = work / "ray-local"
        rows.append(("Ray started by the command", grade(submissions, out, "--backend", "ray",
                                                         environment=cluster_environment(work)), out))
        full = get_challenge(SLUG).meta.points
        print(f"\n{'mode':30} {'wall s':>8} {'per minute':>11} {'s/submission':>13} {'overhead s':>11} "
              f"{'task s':>7}")
        local_wall = rows[0][1]
        for name, wall, out in rows:
            book = json.loads((out / "gradebook.json").read_text())["students"]
            wrong = [row["student"] for row in book if kinds[row["student"]] == "reference" and row["score"] != full]
            if wrong:
                raise SystemExit(f"{name}: references without full marks: {wrong}")
            task_s = sum(row["seconds"] for row in book) / len(book)
            print(f"{name:30} {wall:8.1f} {60 * args.count / wall:11.1f} {wall / args.count:13.2f} "
                  f"{(wall - local_wall) / args.count:11.2f} {task_s:7.2f}")
    print("overhead s: seconds per submission over the local pool's, at the same two gradings at a time; "
          "task s: the mean grading time each result reports")


if __name__ == "__main__":
    main()
