"""safe-checkpoint-loading: read a PyTorch zip checkpoint without executing it, and write it as safetensors.
See README.md."""

import torch


class UnsafeCheckpointError(Exception):
    """The file is not a checkpoint that can be read without executing code."""


def load_checkpoint(path: str) -> dict[str, torch.Tensor]:
    raise NotImplementedError(
        "load_checkpoint is not implemented yet: open the zip, read <prefix>/data.pkl with a pickle.Unpickler whose "
        "find_class allows only the tensor-rebuild globals and whose persistent_load reads <prefix>/data/<key>")


def convert_to_safetensors(checkpoint_path: str, safetensors_path: str, metadata: dict[str, str] | None = None) -> None:
    raise NotImplementedError(
        "convert_to_safetensors is not implemented yet: load the tensors safely, then write them with "
        "safetensors (each tensor its own contiguous copy) and the metadata, format pt included")
