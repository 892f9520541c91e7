"""Batch grading against one `diffchallenge grade` per submission, on ddim-step.

The submissions are a mix of correct and wrong: the reference, alternating with its mutants. Both ways
run as separate commands, as users run them; wall time and CPU time (this process's reaped children, the
fork server included: this process is made a subreaper so it reaps it) are reported, and the scores of
the two ways are checked to agree. grade-batch forks its workers from a worker template;
``--without-template`` measures it as well with fresh workers (``DIFFCHALLENGE_NO_WORKER_TEMPLATE=1``).

    .venv/bin/python benchmarks/batch_grading.py --count 50 --jobs 1 2
    .venv/bin/python benchmarks/batch_grading.py --count 10 --jobs 2 --without-template
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from diffchallenge.bank.challenges import get_challenge
from diffchallenge.bank.mutants import load_mutants, mutants_file, reference_dir
from diffchallenge.runners.forkserver import NO_TEMPLATE_VARIABLE
from pytest_diffchallenge.processes import become_subreaper

CLI = [sys.executable, "-m", "diffchallenge.cli"]
SLUG = "ddim-step"
TARGET_S = 2.6  # per submission, for grade-batch: half of nbgrader's 5.29 s (issue 10)


def make_submissions(folder: Path, count: int) -> dict[str, str]:
    """Write ``count`` submissions, every other one a mutant; return student -> what it is."""
    challenge = get_challenge(SLUG)
    mutants = load_mutants(challenge)
    reference = (reference_dir(challenge) / "solution.py").read_text()
    kinds = {}
    for index in range(count):
        student = f"student{index:03d}"
        mutant = mutants[(index // 2) % len(mutants)] if index % 2 else None
        (folder / student).mkdir(parents=True)
        source = mutant.source(reference, mutants_file(challenge)) if mutant else reference
        (folder / student / "solution.py").write_text(source)
        kinds[student] = mutant.name if mutant else "reference"
    return kinds


def reap_orphans(grace_s: float = 60) -> None:
    """Wait for children re-parented to this subreaper (the fork server exits once its parent has)."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.2)


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(command_runs) -> tuple[float, float]:
    cpu, started = children_cpu_s(), time.perf_counter()
    command_runs()
    reap_orphans()
    return time.perf_counter() - started, children_cpu_s() - cpu


def run(command: list[str], environment: dict[str, str] | None = None) -> None:
    process = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **(environment or {})})
    if process.returncode not in (0,):
        raise SystemExit(f"{' '.join(command)} exited with {process.returncode}:\n{process.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="number of submissions (default: %(default)s)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[os.cpu_count() or 1], help="grade-batch --jobs values")
    parser.add_argument("--skip-sequential", action="store_true", help="measure grade-batch only")
    parser.add_argument("--without-template", action="store_true",
                        help="measure grade-batch with fresh workers too (no worker template)")
    args = parser.parse_args()
    become_subreaper()
    rows = []
    with tempfile.TemporaryDirectory(prefix="diffchallenge-bench-") as workdir:
        work = Path(workdir)
        kinds = make_submissions(work / "submissions", args.count)
        scores = {}
        print(f"{args.count} submissions of {SLUG}: {sum(k == 'reference' for k in kinds.values())} reference, "
              f"{sum(k != 'reference' for k in kinds.values())} mutants; load average {os.getloadavg()[0]:.1f}",
              flush=True)
        if not args.skip_sequential:
            def sequential():
                for student in kinds:
                    run(CLI + ["grade", str(work / "submissions" / student), "--challenge", SLUG,
                               "--out", str(work / "sequential" / student)])
            wall, cpu = measure(sequential)
            rows.append(("sequential `grade` calls", wall, cpu))
            scores["sequential"] = {s: json.loads((work / "sequential" / s / "results.json").read_text())["score"]
                                    for s in kinds}
            print(f"sequential done; load average {os.getloadavg()[0]:.1f}", flush=True)
        templates = [True, False] if args.without_template else [True]
        for jobs, template in [(jobs, template) for jobs in args.jobs for template in templates]:
            mode = f"grade-batch --jobs {jobs}" + ("" if template else ", no template")
            out = work / mode.replace(" ", "_").replace(",", "")
            environment = {} if template else {NO_TEMPLATE_VARIABLE: "1"}
            wall, cpu = measure(lambda out=out, jobs=jobs, environment=environment: run(
                CLI + ["grade-batch", str(work / "submissions"), "--challenge", SLUG, "--out", str(out),
                       "--jobs", str(jobs)], environment))
            rows.append((mode, wall, cpu))
            book = json.loads((out / "gradebook.json").read_text())["students"]
            scores[mode] = {row["student"]: row["score"] for row in book}
            print(f"{mode} done; load average {os.getloadavg()[0]:.1f}", flush=True)
    # Hidden inputs come from each run's secret seed, so a mutant may lose a different number of points.
    first = next(iter(scores.values()))
    differing = sorted(s for s in kinds if len({run_scores[s] for run_scores in scores.values()}) > 1)
    full = sum(score == get_challenge(SLUG).meta.points for score in first.values())
    print(f"\nfull marks: {full}/{args.count}; students scored differently between runs: "
          f"{', '.join(f'{s} ({kinds[s]})' for s in differing) or 'none'}")
    print(f"{'mode':36} {'wall s':>8} {'s/submission':>13} {'CPU s':>8} {'CPU s/submission':>17}")
    for mode, wall, cpu in rows:
        print(f"{mode:36} {wall:8.1f} {wall / args.count:13.2f} {cpu:8.1f} {cpu / args.count:17.2f}")
    print(f"target for grade-batch: {TARGET_S} s/submission or less; {os.cpu_count()} cores, "
          f"load average now {os.getloadavg()[0]:.1f}")
    if any(kinds[s] == "reference" for s in differing):
        raise SystemExit("a reference solution scored differently between runs")


if __name__ == "__main__":
    main()
