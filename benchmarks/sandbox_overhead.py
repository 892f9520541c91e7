"""What the worker's kernel sandbox (Landlock and seccomp) costs a grading, against --no-sandbox.

    .venv/bin/python benchmarks/sandbox_overhead.py [SLUG ...] [--repeats N]

Each repeat grades the reference solution twice, sandboxed and not, in alternating order so that load on
the machine hits both alike; the figure is the median of the pairs' ratios. The target is under 10%.
"""

from __future__ import annotations

import argparse
import statistics

from engine_overhead import timed_grade  # this folder is on sys.path when a benchmark runs

from diffchallenge.bank.challenges import get_challenge
from diffchallenge.grading import GradeOptions
from pytest_diffchallenge.sandboxing import SANDBOX_OFF, SANDBOX_REQUIRED

DEFAULT = ["ddim-step", "chunked-attention"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", default=DEFAULT)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'challenge':<24}{'sandboxed s':>12}{'no sandbox s':>14}{'overhead':>10}  score, layers")
    for slug in args.slugs:
        challenge = get_challenge(slug)
        times: dict[str, list[float]] = {SANDBOX_REQUIRED: [], SANDBOX_OFF: []}
        for index in range(args.repeats):
            order = (SANDBOX_REQUIRED, SANDBOX_OFF) if index % 2 == 0 else (SANDBOX_OFF, SANDBOX_REQUIRED)
            for mode in order:
                seconds, verdict = timed_grade(challenge, GradeOptions(sandbox=mode))
                times[mode].append(seconds)
                if mode == SANDBOX_REQUIRED:
                    sandboxed = verdict
        ratio = statistics.median(s / n for s, n in zip(times[SANDBOX_REQUIRED], times[SANDBOX_OFF], strict=True))
        print(f"{slug:<24}{statistics.median(times[SANDBOX_REQUIRED]):>12.2f}"
              f"{statistics.median(times[SANDBOX_OFF]):>14.2f}{(ratio - 1) * 100:>9.1f}%  "
              f"{sandboxed.score:g}/{sandboxed.max_score:g}, {sandboxed.isolation}")


if __name__ == "__main__":
    main()
