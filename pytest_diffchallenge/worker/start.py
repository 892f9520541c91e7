"""Start-up of a worker: limits, capabilities dropped, then ``serve`` (which confines it: ``sandbox``).

``main(argv)`` is called by ``python -I -m pytest_diffchallenge.worker`` with the command line's arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pytest_diffchallenge.worker.confinement import drop_capabilities, return_freed_memory, set_limits
from pytest_diffchallenge.worker.sandbox import SandboxRequest


def sandbox_request(text: str) -> SandboxRequest:
    try:
        return SandboxRequest.from_json(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
    parser.add_argument("--sandbox", type=sandbox_request, default=SandboxRequest(),
                        help='JSON: {"enabled": false} for none, {"landlock_abi_max": N} to act as an older '
                             'kernel, {"seccomp": false} to act as a machine without it (default: all there is)')
    return parser.parse_args(argv)


@contextmanager
def no_thread_pool_yet() -> Iterator[None]:
    """Import torch without its OpenMP threads, which it starts at import when OMP_NUM_THREADS > 1.

    Landlock confines only the threads started after it (before ABI 8), so serve sets the thread count once
    the worker is confined. The candidate still sees the environment it was given.
    """
    given = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if given is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = given


def main(argv: list[str] | None = None) -> None:
    # As `python -B` (-I ignores $PYTHONDONTWRITEBYTECODE): the probes are imported before the sandbox, and no
    # grading writes a .pyc into the bank or the kit.
    sys.dont_write_bytecode = True
    args = parse(argv)
    return_freed_memory()
    set_limits(args.address_space, args.max_processes)
    drop_capabilities()
    with no_thread_pool_yet():
        from pytest_diffchallenge.worker.serve import serve  # imports torch
    serve(args)
