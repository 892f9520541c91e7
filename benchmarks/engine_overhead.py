"""Grading time of reference solutions, and what worker isolation costs against running in-process.

    .venv/bin/python benchmarks/engine_overhead.py [SLUG ...] [--repeats N]

Both modes run the same pytest session over the same tests; the isolated one starts a worker
interpreter (importing torch and diffusers) and sends every input and result across as safetensors.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from diffchallenge.bank.challenges import get_challenge
from diffchallenge.bank.mutants import reference_dir
from diffchallenge.grading import GradeOptions, grade
from pytest_diffchallenge.verdict import Verdict

DEFAULT = ["ddim-step", "lora-cross-attention", "chunked-attention"]


def timed_grade(challenge, options: GradeOptions) -> tuple[float, Verdict]:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        verdict = grade(challenge, reference_dir(challenge), Path(out), options)
        return time.perf_counter() - started, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", default=DEFAULT)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'challenge':<24}{'isolated s':>12}{'in-process s':>14}{'overhead':>10}{'score':>10}")
    for slug in args.slugs:
        challenge = get_challenge(slug)
        isolated, in_process = [], []
        for _ in range(args.repeats):
            seconds, verdict = timed_grade(challenge, GradeOptions())
            isolated.append(seconds)
            in_process.append(timed_grade(challenge, GradeOptions(in_process=True))[0])
        a, b = statistics.median(isolated), statistics.median(in_process)
        print(f"{slug:<24}{a:>12.2f}{b:>14.2f}{a / b:>9.2f}x{verdict.score:>6g}/{verdict.max_score:g}")


if __name__ == "__main__":
    main()
