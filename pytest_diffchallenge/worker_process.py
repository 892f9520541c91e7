"""The worker: the only process in which candidate code runs.

Started by ``worker_client`` as a fresh interpreter (``python -I -m pytest_diffchallenge.worker_process``),
in a temporary directory, with an environment that holds no secret. It imports the challenge's probes
(trusted helpers that build inputs from recipes, call the candidate and pick out what the tests compare),
guards the challenge's forbidden APIs, and then answers requests until told to exit. Everything it sends
back is data: JSON and safetensors. Nothing it sends can do more than be compared.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import importlib
import importlib.util
import inspect
import json
import os
import resource
import itertools
import sys
import traceback

import torch

from pytest_diffchallenge import recipes, wire
from pytest_diffchallenge.memory import measure_peak

TRACEBACK_CHARS = 3000
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
LINUX_CAPABILITY_VERSION_3 = 0x20080522


class ForbiddenAPIError(RuntimeError):
    """Candidate code called an API that the challenge forbids."""


def drop_capabilities() -> None:
    """Give up every capability, for good, before candidate code runs.

    A worker started by root is root too. Without CAP_SYS_PTRACE it can no longer open the grader's
    /proc/<pid>/mem, fd or environ (the grader is non-dumpable), and with an empty bounding set no
    program it executes gets capabilities back.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in range(64):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break  # past the kernel's last capability
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    no_capabilities = (ctypes.c_uint32 * 6)()
    if libc.capset(header, no_capabilities) != 0:
        raise OSError(ctypes.get_errno(), "capset failed: the worker refuses to run with capabilities")
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def set_limits(address_space_bytes: int, max_processes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if address_space_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (address_space_bytes, address_space_bytes))
    if max_processes:  # the kernel ignores it for root; the Docker runner's pids limit covers that case
        resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))


def resolve_owner(dotted: str):
    """'torch.nn.functional.scaled_dot_product_attention' -> (torch.nn.functional module, 'scaled_dot_...')."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:-1]:
            owner = getattr(owner, name)
        return owner, parts[-1]
    raise ValueError(f"cannot resolve forbidden API {dotted!r}")


def guard_forbidden(dotted: str, candidate_dir: str) -> None:
    owner, name = resolve_owner(dotted)
    try:
        raw = inspect.getattr_static(owner, name)
    except AttributeError:  # made on first access, like the operators in torch.ops.aten
        raw = getattr(owner, name)
    wrapper_type = type(raw) if isinstance(raw, (staticmethod, classmethod)) else None
    original = raw.__func__ if wrapper_type else raw

    def guarded(*args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename.startswith(candidate_dir):
                raise ForbiddenAPIError(f"{dotted} is forbidden in this challenge: write this part yourself")
            frame = frame.f_back
        return original(*args, **kwargs)

    setattr(owner, name, wrapper_type(guarded) if wrapper_type else guarded)


def load_module(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def describe(error: BaseException, candidate_dir: str) -> dict:
    frames = traceback.extract_tb(error.__traceback__)
    # Show the candidate's own frames (and the last one) rather than the worker's machinery.
    shown = [f for f in frames if f.filename.startswith(candidate_dir)] or frames[-1:]
    text = "".join(traceback.format_list(shown)) + "".join(traceback.format_exception_only(type(error), error))
    return {"type": type(error).__name__, "message": str(error)[:TRACEBACK_CHARS],
            "traceback": text[-TRACEBACK_CHARS:]}


class Worker:
    def __init__(self, args):
        self.args = args
        self.candidate_dir = os.path.realpath(args.submission) + os.sep
        self.solution = None
        self.prepared = {}
        self.handles = itertools.count()
        self.probes = load_module("diffchallenge_probes", args.probes)

    def import_solution(self):
        if self.solution is None:
            sys.path.insert(0, self.candidate_dir)
            sys.modules.pop("solution", None)
            self.solution = load_module("solution", os.path.join(self.candidate_dir, "solution.py"))
        return self.solution

    def prepare(self, request):
        probe = getattr(self.probes, request["probe"], None)
        if probe is None or request["probe"].startswith("_"):
            raise LookupError(f"the challenge has no probe named {request['probe']!r}")
        try:
            solution = self.import_solution()
        except BaseException as error:
            raise ImportError(f"solution.py could not be imported: {type(error).__name__}: {error}") from error
        made = probe(solution, **request.get("kwargs", {}), **recipes.device_keyword(probe, self.args.device))
        run = made if callable(made) else (lambda: made)
        handle = next(self.handles)
        self.prepared[handle] = run
        return {"handle": handle}

    def run(self, request):
        run = self.prepared[request["handle"]]
        if request.get("measure_memory"):
            with measure_peak(self.args.device) as meter:
                result = run()
            reply = {"peak_bytes": meter.peak_bytes}
        else:
            result, reply = run(), {}
            if self.args.device.startswith("cuda"):
                torch.cuda.synchronize()  # the runtime budget times the kernels, not their launch
        if not request.get("discard"):
            reply["result"] = result
        if request.get("release"):
            del self.prepared[request["handle"]]
        return reply


def warm_up_cuda(device: str) -> None:
    """Create the CUDA context and cuBLAS's workspace now, so that neither counts towards a submission's peak."""
    if not torch.cuda.is_available():
        raise RuntimeError(f"--device {device}, but torch {torch.__version__} sees no CUDA device here")
    recipes.exact_float32(device)
    ones = torch.ones(8, 8, device=device)
    (ones @ ones).sum().item()


def serve(args) -> None:
    inbox = os.fdopen(args.read_fd, "rb", buffering=0)
    outbox = os.fdopen(args.write_fd, "wb")
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        warm_up_cuda(args.device)
    for dotted in json.loads(args.forbidden):
        guard_forbidden(dotted, os.path.realpath(args.submission) + os.sep)
    worker = Worker(args)
    wire.write_frame(outbox, {"ok": True, "ready": True, "pid": os.getpid()})
    while True:
        request = wire.read_frame(inbox)
        if request.get("op") == "exit":
            return
        try:
            reply = {"ok": True, **getattr(worker, request["op"])(request)}
            payload = wire.encode(reply)
        except BaseException as error:  # SystemExit and KeyboardInterrupt from candidate code included
            payload = wire.encode({"ok": False, "error": describe(error, worker.candidate_dir)})
        outbox.write(payload)
        outbox.flush()


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


if __name__ == "__main__":
    main()
