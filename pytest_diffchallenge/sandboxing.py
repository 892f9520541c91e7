"""The trusted side's policy for the worker's kernel sandbox (the worker applies it: ``worker.sandbox``).

Modes: ``required`` (every grading: a worker without the layers that contain a submission is the grader's
error, and nothing of the submission runs), ``best-effort`` (a candidate testing their own code: each layer
the kernel has) and ``off`` (``--no-sandbox``, UNSAFE). The worker reports each layer in its ready frame,
before any candidate code runs, so that report can be trusted; it goes into the verdict as it is.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pytest_diffchallenge.faults import GraderError, SandboxIncomplete

SANDBOX_REQUIRED, SANDBOX_BEST_EFFORT, SANDBOX_OFF = "required", "best-effort", "off"
SANDBOX_MODES = (SANDBOX_REQUIRED, SANDBOX_BEST_EFFORT, SANDBOX_OFF)
# With these two every class of attack is contained: Landlock keeps the files out of reach, and seccomp stops
# new processes, sockets and signals where an older Landlock (ABI < 4 or < 6) cannot.
REQUIRED_LAYERS = ("landlock-filesystem", "seccomp")
HELD = "held"
# Tests of the fallbacks emulate an older kernel, e.g. '{"landlock_abi_max": 4}' or '{"seccomp": false}'.
EMULATION_VARIABLE = "DIFFCHALLENGE_SANDBOX_EMULATE"
MAX_LAYERS, MAX_TEXT = 16, 300


def worker_request(mode: str) -> str:
    """The worker's ``--sandbox`` argument."""
    request: dict[str, Any] = {"enabled": mode != SANDBOX_OFF}
    emulated = os.environ.get(EMULATION_VARIABLE)
    if emulated:
        request |= json.loads(emulated)
    return json.dumps(request)


def checked_layers(mode: str, reported: Any) -> dict[str, str]:
    """The layers a worker reported in its ready frame, validated."""
    if mode == SANDBOX_OFF:
        return {"sandbox": "off: --no-sandbox"}
    if not isinstance(reported, dict) or len(reported) > MAX_LAYERS or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in reported.items()):
        raise GraderError(f"the worker's report of its sandbox is malformed: {str(reported)[:MAX_TEXT]}")
    return {k[:MAX_TEXT]: v[:MAX_TEXT] for k, v in reported.items()}


def require(mode: str, layers: dict[str, str]) -> None:
    """Under ``required``, a missing required layer is the grader's error: ``SandboxIncomplete``."""
    missing = [f"{name}: {layers.get(name, 'not reported')}" for name in REQUIRED_LAYERS
               if not layers.get(name, "").startswith(HELD)]
    if mode == SANDBOX_REQUIRED and missing:
        raise SandboxIncomplete(
            "the worker's sandbox is incomplete on this machine, so the submission was not run: "
            + "; ".join(missing) + ". Grade on a Linux kernel with Landlock enabled (5.13 or later, 'landlock' in "
            "/sys/kernel/security/lsm) and libseccomp installed, or pass --no-sandbox to grade without it "
            "(UNSAFE for untrusted code)")


def summary(layers: dict[str, str]) -> str:
    """One line for the verdict's ``isolation``."""
    if not layers:
        return "worker process"
    if all(state.startswith(HELD) for state in layers.values()):
        return "worker process, sandboxed: " + ", ".join(layers)
    if layers.get("sandbox", "").startswith("off"):
        return "worker process, no sandbox (--no-sandbox)"
    missing = [name for name, state in layers.items() if not state.startswith(HELD)]
    return "worker process, sandbox without " + ", ".join(missing)
