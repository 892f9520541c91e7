"""Trusted helpers for pickle-scanner. The probe runs in the worker: it writes a file where the test says and runs
your scanner on it. The other helpers build the corpus and judge the findings here, in the grader; picklescan is
measured here too, on the same files."""

import io
import logging
import os
from collections import OrderedDict
from pathlib import Path

import torch
from picklescan.scanner import scan_bytes

from pytest_diffchallenge import pickles, recipes
from pytest_diffchallenge.faults import MismatchError


def scan(solution, data, path):
    with open(path, "wb") as file:
        file.write(data.numpy().tobytes())
    return {"findings": solution.scan(path)}


# -- in the grader ------------------------------------------------------------------------------------------------
def unet_checkpoint(seed: int, dtype=torch.float32) -> bytes:
    """A real diffusers state dict (a tiny UNet's), as torch.save writes it."""
    state = OrderedDict((name, value.to(dtype)) for name, value in recipes.tiny_unet(seed).state_dict().items())
    return pickles.checkpoint(state, "diffusion_pytorch_model")


def findings_of(submission, data: bytes, path: Path) -> list[str]:
    findings = submission.call("scan", data=pickles.as_tensor(data), path=str(path))["findings"]
    if not isinstance(findings, list) or not all(isinstance(finding, str) for finding in findings):
        raise MismatchError(f"scan returned {type(findings).__name__}, not a list of strings")
    return findings


def judge(submission, name: str, data: bytes, expected: list[str], canary: Path | None = None) -> list[str]:
    """Scan ``data``: the findings must be ``expected`` exactly, and nothing may have run (the canary is absent)."""
    findings = findings_of(submission, data, submission.folder / f"{name}.scanned")
    if canary is not None and os.path.lexists(canary):
        raise MismatchError(f"{name}: scanning ran the pickle: {canary.name} was created")
    if findings != expected:
        raise MismatchError(f"{name}: found {findings}, expected {expected}")
    return findings


def picklescan_flags(name: str, data: bytes) -> bool:
    """picklescan's verdict with its default settings: a file is infected when it holds a global it calls dangerous."""
    logging.getLogger("picklescan").setLevel(logging.CRITICAL)
    return scan_bytes(io.BytesIO(data), name).infected_files > 0


def precision_and_recall(flagged: dict[str, bool], malicious: dict[str, bool]) -> tuple[float, float]:
    """Over files: precision = flagged malicious / flagged, recall = flagged malicious / malicious."""
    hits = sum(flagged[name] and malicious[name] for name in flagged)
    flagged_count, malicious_count = sum(flagged.values()), sum(malicious.values())
    return (hits / flagged_count if flagged_count else 1.0), (hits / malicious_count if malicious_count else 1.0)
