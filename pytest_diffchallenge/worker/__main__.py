"""Start a worker: ``python -I -m pytest_diffchallenge.worker --submission DIR --probes FILE ...``."""

from __future__ import annotations

import argparse

from pytest_diffchallenge.worker.confinement import drop_capabilities, set_limits
from pytest_diffchallenge.worker.serve import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="diffchallenge-worker")
    parser.add_argument("--submission", required=True)
    parser.add_argument("--probes", required=True)
    parser.add_argument("--forbidden", default="[]")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--read-fd", type=int, required=True)
    parser.add_argument("--write-fd", type=int, required=True)
    parser.add_argument("--address-space", type=int, default=0)
    parser.add_argument("--max-processes", type=int, default=0)
    args = parser.parse_args()
    set_limits(args.address_space, args.max_processes)
    drop_capabilities()
    serve(args)


main()
