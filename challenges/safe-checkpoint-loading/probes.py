"""Trusted helpers for safe-checkpoint-loading. The probe runs in the worker: it writes the checkpoint where the test
says, runs your converter and returns the file it wrote, or what it raised. The other helpers build checkpoints
and judge the result here, in the grader: nothing your code reports is taken on trust."""

import json
import os
import struct
from collections import OrderedDict
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors

from pytest_diffchallenge import pickles, recipes
from pytest_diffchallenge.faults import MismatchError

ALL_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32, torch.int16,
              torch.int8, torch.uint8, torch.bool)


def convert(solution, checkpoint, source, target, metadata=None):
    """``metadata`` is passed only when the test gives it (the default is graded too)."""
    with open(source, "wb") as file:
        file.write(checkpoint.numpy().tobytes())
    options = {} if metadata is None else {"metadata": metadata}
    try:
        solution.convert_to_safetensors(source, target, **options)
    except solution.UnsafeCheckpointError as error:
        return {"refused": True, "reason": str(error)}
    with open(target, "rb") as file:
        return {"refused": False, "safetensors": torch.frombuffer(bytearray(file.read()), dtype=torch.uint8)}


# -- in the grader ------------------------------------------------------------------------------------------------
def paths(folder: Path, tag: str) -> dict:
    """Where the worker reads and writes, in its own folder; one pair per test."""
    return {"source": str(folder / f"{tag}.bin"), "target": str(folder / f"{tag}.safetensors")}


def unet_state(seed: int, dtype=torch.float32) -> dict:
    """A real diffusers state dict: a tiny UNet's."""
    return OrderedDict((name, value.to(dtype)) for name, value in recipes.tiny_unet(seed).state_dict().items())


def seeded_values(shape, seed: int, dtype) -> torch.Tensor:
    values = recipes.seeded_randn(shape, seed, scale=50.0)
    if dtype == torch.bool:
        return values > 0
    if dtype.is_floating_point:
        return values.to(dtype)
    return values.round().clamp(0 if dtype == torch.uint8 else -100, 100).to(dtype)


def dtypes_state(seed: int, dtypes=ALL_DTYPES) -> dict:
    return {f"tensor.{str(dtype).split('.')[1]}": seeded_values((3, 5), seed + index, dtype)
            for index, dtype in enumerate(dtypes)}


def judge_converted(reply, state: dict, metadata: dict | None = None) -> None:
    """The file holds every tensor of ``state`` under its name, bit for bit, and the metadata asked for."""
    if reply["refused"]:
        raise MismatchError(f"a safe checkpoint was refused: {reply['reason']}")
    data = reply["safetensors"].numpy().tobytes()
    try:
        tensors = load_safetensors(data)
        (header_size,) = struct.unpack("<Q", data[:8])
        written_metadata = json.loads(data[8:8 + header_size]).get("__metadata__", {})
    except Exception as error:
        raise MismatchError(f"the file written is not valid safetensors: {error}") from None
    if set(tensors) != set(state):
        raise MismatchError(f"the file's tensors differ: missing {sorted(set(state) - set(tensors))[:5]}, "
                            f"unexpected {sorted(set(tensors) - set(state))[:5]}")
    for name, want in state.items():
        got = tensors[name]
        if got.dtype != want.dtype or got.shape != want.shape or not torch.equal(got, want.detach()):
            raise MismatchError(f"{name}: {got.dtype} {tuple(got.shape)} in the file, expected {want.dtype} "
                                f"{tuple(want.shape)}" + ("" if got.shape != want.shape else " with other values"))
    expected_metadata = {"format": "pt", **(metadata or {})}
    if written_metadata != expected_metadata:
        raise MismatchError(f"the file's metadata is {written_metadata}, expected {expected_metadata}")


def judge_refused(reply, where: dict, canary: Path, refused_global: str) -> None:
    """Refused with a reason that names the global; nothing executed (the canary is absent); no file written."""
    if os.path.lexists(canary):
        raise MismatchError(f"the checkpoint's code ran while it was read: {canary.name} was created")
    if not reply["refused"]:
        raise MismatchError(f"a malicious checkpoint (it calls {refused_global}) was converted, not refused")
    if refused_global not in reply["reason"]:
        raise MismatchError(f"the reason {reply['reason'][:200]!r} does not name the global {refused_global}")
    if os.path.lexists(where["target"]):
        raise MismatchError("a refused checkpoint still left a safetensors file")


def malicious(data_pickle: bytes, seed: int) -> torch.Tensor:
    """A real checkpoint (its storages included) whose data.pkl is ``data_pickle``."""
    benign = pickles.checkpoint(dtypes_state(seed, (torch.float32,)))
    return pickles.as_tensor(pickles.with_data_pickle(benign, data_pickle))
