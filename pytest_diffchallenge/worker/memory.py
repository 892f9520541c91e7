"""Peak tensor memory, measured the same way on every run.

On the CPU a TorchDispatchMode counts the bytes of every storage created while it is active, and drops
them when the storage is freed. Measured here, it agrees exactly with ``torch.profiler(profile_memory=True)``
and does not vary between runs, processes or thread counts, so fixed ceilings in the metadata are sound.
Python's own temporary allocations (numpy's buffers among them) are added through ``tracemalloc``. On a GPU the caching
allocator's own peak is used. All of this runs beside candidate code, which could switch it off: the trusted
side also reads the worker's resident memory from /proc (``session.resident_allowance``).
"""

from __future__ import annotations

import tracemalloc
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class PeakTensorMemory(TorchDispatchMode):
    """Tracks live storages created inside the mode; ``peak`` is the high-water mark in bytes."""

    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self._seen: set[int] = set()

    def _release(self, key: int, nbytes: int) -> None:
        self._seen.discard(key)
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor) and leaf.device.type == "cpu":
                storage = leaf.untyped_storage()
                key = id(storage)
                if key not in self._seen:
                    self._seen.add(key)
                    self.live += storage.nbytes()
                    self.peak = max(self.peak, self.live)
                    weakref.finalize(storage, self._release, key, storage.nbytes())
        return out


def warm_up() -> None:
    """Enter the dispatch mode once before any measurement: its first use imports much of torch (60 MiB)."""
    with PeakTensorMemory():
        torch.zeros(1).add_(1)


class measure_peak:
    """Context manager: ``with measure_peak(device) as m: ...`` then ``m.peak_bytes``."""

    def __init__(self, device: str = "cpu"):
        self.device = torch.device(device)
        self.peak_bytes = 0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._baseline = torch.cuda.memory_allocated(self.device)
        else:
            tracemalloc.start()  # numpy reports its buffers here: memory that no tensor storage holds
            self._mode = PeakTensorMemory().__enter__()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - self._baseline
        else:
            self._mode.__exit__(*exc)
            retained, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            # What was freed again by the end: numpy's temporaries count, modules imported on the way do not.
            self.peak_bytes = self._mode.peak + traced_peak - retained
        return False
