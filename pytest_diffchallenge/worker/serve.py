"""The worker's request loop: import the submission, run the challenge's probes, send back data.

Started by ``pytest_diffchallenge.client`` in a temporary directory, with an environment that holds no
secret. It imports the challenge's probes (trusted helpers that build inputs from recipes, call the
candidate and pick out what the tests compare), guards the challenge's forbidden APIs, confines itself
(``sandbox``: the kernel's Landlock and seccomp), and then answers requests until told to exit. Everything
it sends back is data: JSON and safetensors.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import sys
import traceback

import torch

from pytest_diffchallenge import recipes, wire
from pytest_diffchallenge.worker.guards import guard_forbidden
from pytest_diffchallenge.worker.memory import measure_peak
from pytest_diffchallenge.worker.memory import warm_up as warm_up_memory_meter
from pytest_diffchallenge.worker.sandbox import confine

TRACEBACK_CHARS = 3000


class SolutionImportError(ImportError):
    """solution.py could not be imported (a syntax error, a failing import, an exception at module level)."""


def load_module(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python module")
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
            raise SolutionImportError(f"solution.py could not be imported: {type(error).__name__}: {error}") \
                from error
        made = probe(solution, **request.get("kwargs", {}), **recipes.device_keyword(probe, self.args.device))
        run = made if callable(made) else (lambda: made)
        handle = next(self.handles)
        self.prepared[handle] = run
        return {"handle": handle}

    def run(self, request):
        run = self.prepared.pop(request["handle"])  # a prepared call runs once
        if request.get("measure_memory"):
            with measure_peak(self.args.device) as meter:
                result = run()
            reply = {"peak_bytes": meter.peak_bytes, "timeline": meter.timeline.as_json()}
        else:
            result, reply = run(), {}
            if self.args.device.startswith("cuda"):
                torch.cuda.synchronize()  # the runtime budget times the kernels, not their launch
        reply["result"] = result
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
    if args.device.startswith("cuda"):
        warm_up_cuda(args.device)  # the CUDA driver's threads start here, outside Landlock before ABI 8
    for dotted in json.loads(args.forbidden):
        guard_forbidden(dotted, os.path.realpath(args.submission) + os.sep)
    worker = Worker(args)
    # Confined before the first line of candidate code (solution.py is imported at the first request).
    sandbox = confine(workdir=os.getcwd(), device=args.device, wanted=args.sandbox,
                      read_only=[os.path.dirname(os.path.realpath(args.probes)), os.path.realpath(args.submission)])
    torch.set_num_threads(args.threads)  # torch's thread pools start now, inside the sandbox
    if not args.device.startswith("cuda"):
        warm_up_memory_meter()
    wire.write_frame(outbox, {"ok": True, "ready": True, "pid": os.getpid(), "sandbox": sandbox})
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
