"""safe-checkpoint-loading: read a PyTorch zip checkpoint without executing it, and write it as safetensors."""

import os
import pickle
import zipfile

import torch
from safetensors.torch import save_file

STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
    "DoubleStorage": torch.float64, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}


class UnsafeCheckpointError(Exception):
    """The file is not a checkpoint that can be read without executing code."""


class StorageType:
    """What a storage global stands for: only its dtype."""

    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype


def rebuild_tensor(storage, offset, size, stride, *_):
    return torch.as_strided(storage, size, stride, offset)


def rebuild_parameter(data, *_):
    return data


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves the few globals a state dict needs to harmless stand-ins; refuses every other one."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self.archive, self.prefix = archive, prefix
        self.storages: dict[str, torch.Tensor] = {}

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return dict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return rebuild_parameter
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(STORAGE_DTYPES[name])
        raise UnsafeCheckpointError(f"refused the global {module}.{name}: a checkpoint needs only tensors")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, _numel = pid
        if kind != "storage" or not isinstance(storage_type, StorageType):
            raise UnsafeCheckpointError(f"refused the persistent id {pid!r}")
        if key not in self.storages:  # tensors that share a storage share it here too
            raw = bytearray(self.archive.read(f"{self.prefix}/data/{key}"))
            self.storages[key] = torch.frombuffer(raw, dtype=storage_type.dtype)
        return self.storages[key]


def load_checkpoint(path: str) -> dict[str, torch.Tensor]:
    """The tensors of a torch zip checkpoint, by name; nothing in it is executed."""
    if not zipfile.is_zipfile(path):
        raise UnsafeCheckpointError(f"{os.path.basename(path)} is not a zip checkpoint (legacy pickles are refused)")
    with zipfile.ZipFile(path) as archive:
        data_pickle = next((name for name in archive.namelist() if name.endswith("/data.pkl")), None)
        if data_pickle is None:
            raise UnsafeCheckpointError(f"{os.path.basename(path)} holds no data.pkl")
        with archive.open(data_pickle) as file:
            state = RestrictedUnpickler(file, archive, data_pickle.rsplit("/", 1)[0]).load()
    return dict(state)


def convert_to_safetensors(checkpoint_path: str, safetensors_path: str, metadata: dict[str, str] | None = None) -> None:
    """Write the checkpoint's tensors to a safetensors file, with ``metadata`` and ``format: pt``."""
    tensors = load_checkpoint(checkpoint_path)
    # safetensors refuses tensors that share memory, and views: every tensor gets its own contiguous copy.
    owned = {name: tensor.clone(memory_format=torch.contiguous_format) for name, tensor in tensors.items()}
    save_file(owned, safetensors_path, metadata={"format": "pt", **(metadata or {})})
