"""Grading on an accelerator: each GPU-variant challenge verified there, and its reference's figures per test
beside the same tests on the CPU.

    python benchmarks/device_grading.py [SLUG ...] [--device cuda] [--jobs N] [--json FILE]

Verification on the device grades the reference twice, the starter and every mutant, as
`diffchallenge verify` does. Then the reference is graded once on each side, and the table shows each
test's outcome, peak memory (CUDA allocator on the device, tensor accounting on the CPU) and runtime
ratio against the reference.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict
from pathlib import Path

from diffchallenge.bank import challenges as bank
from diffchallenge.bank import verify
from diffchallenge.bank.mutants import reference_dir
from diffchallenge.batch import forkserver_runner, usable_cores
from diffchallenge.grading import GradeOptions
from pytest_diffchallenge.verdict import TestRecord, Verdict

MIB = 1024**2


def per_test(verdict: Verdict) -> dict[str, TestRecord]:
    return {test.name: test for test in verdict.tests}


def cell(test: TestRecord | None) -> str:
    if test is None:
        return "-"
    figures = test.figures
    parts = [str(test.status)]
    if "peak_tensor_memory_bytes" in figures:
        parts.append(f"{figures['peak_tensor_memory_bytes'] / MIB:.2f} MiB")
    if "runtime_ratio" in figures:
        parts.append(f"ratio {figures['runtime_ratio']:.2f} ({figures['candidate_ms']:.1f} ms)")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*", help="default: every challenge with a GPU variant")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--jobs", type=int, default=min(8, usable_cores()))
    parser.add_argument("--json", type=Path, help="also write every row and verdict here")
    args = parser.parse_args()
    challenges = ([bank.get_challenge(s) for s in args.slugs] if args.slugs
                  else [c for c in bank.all_challenges() if c.meta.gpu_variant])
    runner = forkserver_runner()
    record = {}
    with tempfile.TemporaryDirectory(prefix="diffchallenge-device-") as workdir:
        for challenge in challenges:
            folder = Path(workdir) / challenge.slug
            rows = verify.verify_challenge(challenge, folder / "verify", runner, jobs=args.jobs,
                                           threads=max(1, usable_cores() // args.jobs), device=args.device)
            print(f"\n{challenge.slug} verified on {args.device}:")
            for row in rows:
                print(f"  {row.kind:<10}{row.name:<28}{row.score:>5g}/{row.max_score:<5g}"
                      f"{row.expected:<14}{'ok' if row.ok else 'NOT OK':<8}{row.seconds:>7.1f} s"
                      + (f"  {row.errors}" if row.errors else ""))
            total = verify.summary(rows)
            print(f"  mutants caught {total.mutants_caught}/{total.mutants}, all ok: {total.all_ok}")
            verdicts = {device: runner.grade(challenge, reference_dir(challenge), folder / device,
                                             GradeOptions(device=device, threads=usable_cores()))
                        for device in (args.device, "cpu")}
            print(f"\nreference of {challenge.slug}, per test ({args.device} | cpu):")
            on_device, on_cpu = (per_test(verdicts[d]) for d in (args.device, "cpu"))
            for name in sorted(on_device.keys() | on_cpu.keys()):
                print(f"  {name:<44}{cell(on_device.get(name)):<46}| {cell(on_cpu.get(name))}")
            for device, verdict in verdicts.items():
                print(f"  {device}: {verdict.score:g}/{verdict.max_score:g} in {verdict.duration_s:.1f} s "
                      f"({verdict.environment})")
            record[challenge.slug] = {"rows": [asdict(row) for row in rows],
                                      "reference": {d: v.to_json() for d, v in verdicts.items()}}
    if args.json:
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
