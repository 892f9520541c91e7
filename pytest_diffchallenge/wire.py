"""The wire format between the trusted process and a worker: data only, never pickle.

A frame is an 8-byte header (JSON length, tensor-blob length), a JSON document and a safetensors blob.
Tensors inside the JSON are replaced by ``{"__tensor__": "<key>"}`` references into the blob.
"""

from __future__ import annotations

import json
import struct

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

HEADER = struct.Struct(">II")
MAX_FRAME_BYTES = 1 << 28  # a reply over 256 MiB is refused from its header, before its body is read
TENSOR_KEY = "__tensor__"
MAX_DEPTH = 64  # far deeper than any probe's result; a deeper reply is refused before it can exhaust the stack


class WireError(Exception):
    """A frame that is not valid data in our format."""


def encode(document) -> bytes:
    tensors: dict[str, torch.Tensor] = {}

    def pack(value):
        if isinstance(value, torch.Tensor):
            key = f"t{len(tensors)}"
            tensors[key] = value.detach().to("cpu").contiguous().clone()
            return {TENSOR_KEY: key}
        if isinstance(value, dict):
            return {str(k): pack(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [pack(v) for v in value]
        if isinstance(value, torch.dtype):
            return str(value)
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise WireError(f"cannot send a value of type {type(value).__name__}: "
                        "only tensors, JSON values, lists and dicts")

    text = json.dumps(pack(document), allow_nan=True).encode()
    blob = save_tensors(tensors) if tensors else b""
    return HEADER.pack(len(text), len(blob)) + text + blob


def decode(text: bytes, blob: bytes):
    try:
        document = json.loads(text)
        tensors = load_tensors(blob) if blob else {}
    except (Exception, RecursionError) as error:  # malformed data from a worker is reported, never trusted
        raise WireError(f"malformed frame: {type(error).__name__}: {str(error)[:200]}") from None

    def unpack(value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise WireError(f"frame nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            if set(value) == {TENSOR_KEY}:
                try:
                    return tensors[value[TENSOR_KEY]]
                except (KeyError, TypeError):
                    raise WireError(f"frame refers to a missing tensor {value[TENSOR_KEY]!r}") from None
            return {k: unpack(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [unpack(v, depth + 1) for v in value]
        return value

    return unpack(document)


def read_exactly(stream, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("channel closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(stream):
    text_len, blob_len = HEADER.unpack(read_exactly(stream, HEADER.size))
    if text_len + blob_len > MAX_FRAME_BYTES:
        raise WireError(f"frame of {text_len + blob_len} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")
    return decode(read_exactly(stream, text_len), read_exactly(stream, blob_len))


def write_frame(stream, document) -> None:
    stream.write(encode(document))
    stream.flush()
