"""Start-up of a worker: limits, capabilities dropped, then ``serve``.

``main(argv)`` is called by ``python -I -m pytest_diffchallenge.worker`` with the command line's arguments.
"""

from __future__ import annotations

import argparse

from pytest_diffchallenge.worker.confinement import drop_capabilities, set_limits
from pytest_diffchallenge.worker.serve import serve


def parse(argv: list[str] | None = None) -> argparse.Namespace:
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    set_limits(args.address_space, args.max_processes)
    drop_capabilities()
    serve(args)
