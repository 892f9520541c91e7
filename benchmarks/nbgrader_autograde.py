"""Time per notebook: the kit's `diffchallenge nbgrader autograde` against plain `nbgrader autograde`.

Both grade the same course: one challenge, N students who all hand in the reference solution. Each side gets
its own copy of the course, so neither sees the other's grades. Prints seconds per notebook and the scores (which
must agree: an honest notebook earns the same from both).

    .venv/bin/python benchmarks/nbgrader_autograde.py [--slug ddim-step] [--students 3] [--public-only]

The machine's load average is printed with the figures: on a shared machine they grow with it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from diffchallenge.bank.challenges import get_challenge
from diffchallenge.bank.mutants import reference_dir

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
ASSIGNMENT = "bench"


def run(command: list, cwd: Path | None = None) -> float:
    """Run ``command``; return its wall-clock seconds."""
    started = time.perf_counter()
    subprocess.run([str(part) for part in command], cwd=cwd, env=ENV, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def build_course(root: Path, slug: str, students: int, public_only: bool) -> Path:
    course = root / "course"
    run([BIN / "diffchallenge", "nbgrader", "export", slug, "--course", course, "--assignment", ASSIGNMENT]
        + (["--public-only"] if public_only else []))
    run([BIN / "nbgrader", "generate_assignment", ASSIGNMENT], cwd=course)
    reference = (reference_dir(get_challenge(slug)) / "solution.py").read_text()
    notebook = nbformat.read(course / "release" / ASSIGNMENT / f"{slug}.ipynb", as_version=4)
    next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "solution").source = \
        f"%%solution {slug}\n{reference}"
    for index in range(students):
        path = course / "submitted" / f"student{index}" / ASSIGNMENT / f"{slug}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(notebook, path)
    return course


def scores(course: Path) -> list[float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return sorted(submission.score for submission in gradebook.assignment_submissions(ASSIGNMENT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slug", default="ddim-step")
    parser.add_argument("--students", type=int, default=3)
    parser.add_argument("--public-only", action="store_true", help="export without the hidden tests")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="diffchallenge-bench-") as workdir:
        course = build_course(Path(workdir), args.slug, args.students, args.public_only)
        kit, plain = Path(workdir, "kit"), Path(workdir, "plain")
        shutil.copytree(course, kit)
        shutil.copytree(course, plain)
        load_before = os.getloadavg()[0]
        kit_seconds = run([BIN / "diffchallenge", "nbgrader", "autograde", ASSIGNMENT, "--course", kit])
        plain_seconds = run([BIN / "nbgrader", "autograde", ASSIGNMENT], cwd=plain)
        load_after = os.getloadavg()[0]
        print(f"{args.slug}, {args.students} notebooks, {'public tests' if args.public_only else 'public + hidden'}"
              f" (load average {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} cores)")
        print(f"  diffchallenge nbgrader autograde: {kit_seconds / args.students:6.1f} s per notebook, "
              f"scores {scores(kit)}")
        print(f"  plain nbgrader autograde:         {plain_seconds / args.students:6.1f} s per notebook, "
              f"scores {scores(plain)}")


if __name__ == "__main__":
    main()
