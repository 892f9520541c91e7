"""Peak tensor memory, measured the same way on every run.

On the CPU a TorchDispatchMode counts the bytes of every storage created while it is active, and drops
them when the storage is freed. Measured here, it agrees exactly with ``torch.profiler(profile_memory=True)``
and does not vary between runs, processes or thread counts, so fixed ceilings in the metadata are sound.
Python's own temporary allocations (numpy's buffers among them) are added through ``tracemalloc``. On a GPU the caching
allocator's own peak is used. All of this runs beside candidate code, which could switch it off: the trusted
side also reads the worker's resident memory from /proc (``session.resident_allowance``).

A measured call also keeps a ``Timeline`` of live memory and of the phases that probes mark with ``phase``: it is
only drawn in reports, never graded (candidate code can forge it as easily as the peak).
"""

from __future__ import annotations

import time
import tracemalloc
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from pytest_diffchallenge.artifacts import MAX_MEMORY_SAMPLES, MAX_PHASES, PHASE_LABEL_CHARS, keep_peaks

Sample = tuple[float, float]


class Timeline:
    """Live bytes each time they change, and where each phase begins, in seconds since the call started.

    Bounded and cheap: once ``MAX_MEMORY_SAMPLES`` are kept they are halved (``keep_peaks``), and from then on each
    kept sample is the largest of twice as many changes as before.
    """

    def __init__(self):
        self.started = time.perf_counter()
        self.samples: list[Sample] = [(0.0, 0)]
        self.phases: list[tuple[float, str]] = []
        self._stride = 1
        self._bucket: list[Sample] = []

    def _now(self) -> float:
        return time.perf_counter() - self.started

    def sample(self, live: float) -> None:
        self._bucket.append((self._now(), live))
        if len(self._bucket) >= self._stride:
            self.samples.append(max(self._bucket, key=lambda sample: sample[1]))
            self._bucket = []
            if len(self.samples) >= MAX_MEMORY_SAMPLES:
                self.samples = keep_peaks(self.samples, MAX_MEMORY_SAMPLES // 2)
                self._stride *= 2

    def mark(self, label: str) -> None:
        label = "".join(c for c in str(label) if c.isprintable()).strip()[:PHASE_LABEL_CHARS]
        if label and len(self.phases) < MAX_PHASES:
            self.phases.append((self._now(), label))

    def as_json(self) -> dict:
        """``{"samples": [[seconds, bytes], ...], "phases": [[seconds, label], ...]}``, time ascending."""
        samples = keep_peaks(self.samples + ([max(self._bucket, key=lambda s: s[1])] if self._bucket else []),
                             MAX_MEMORY_SAMPLES)
        return {"samples": [list(sample) for sample in samples], "phases": [list(phase) for phase in self.phases]}


class PeakTensorMemory(TorchDispatchMode):
    """Tracks live storages created inside the mode; ``peak`` is the high-water mark in bytes. With a ``timeline``,
    each change of the live bytes is sampled there."""

    def __init__(self, timeline: Timeline | None = None):
        super().__init__()
        self.live = 0
        self.peak = 0
        self.timeline = timeline
        self._seen: set[int] = set()

    def _release(self, key: int, nbytes: int) -> None:
        self._seen.discard(key)
        self.live -= nbytes
        if self.timeline is not None:
            self.timeline.sample(self.live)

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
                    if self.timeline is not None:
                        self.timeline.sample(self.live)
                    weakref.finalize(storage, self._release, key, storage.nbytes())
        return out


def warm_up() -> None:
    """Enter the dispatch mode once before any measurement: its first use imports much of torch (60 MiB)."""
    with PeakTensorMemory():
        torch.zeros(1).add_(1)


_measuring: measure_peak | None = None  # the measured call in progress, which ``phase`` marks


def phase(label: str) -> None:
    """Mark where a phase of the measured call begins ("encode", "step 3"): probes call it, for the reports' drawing.

    Outside a measured call (the oracle in the grader, a challenge run without the kit's worker) it does nothing.
    """
    if _measuring is not None:
        _measuring.mark(label)


class measure_peak:
    """Context manager: ``with measure_peak(device) as m: ...`` then ``m.peak_bytes`` and ``m.timeline``."""

    def __init__(self, device: str = "cpu"):
        self.device = torch.device(device)
        self.peak_bytes = 0
        self.timeline = Timeline()

    def __enter__(self):
        global _measuring
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._baseline = torch.cuda.memory_allocated(self.device)
        else:
            tracemalloc.start()  # numpy reports its buffers here: memory that no tensor storage holds
            self._mode = PeakTensorMemory(self.timeline).__enter__()
        _measuring = self
        return self

    def mark(self, label: str) -> None:
        if self.device.type == "cuda":  # no hook sees each allocation there: a sample at each phase instead
            self.timeline.sample(max(0, torch.cuda.memory_allocated(self.device) - self._baseline))
        self.timeline.mark(label)

    def __exit__(self, *exc):
        global _measuring
        _measuring = None
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.timeline.sample(max(0, torch.cuda.memory_allocated(self.device) - self._baseline))
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - self._baseline
        else:
            self._mode.__exit__(*exc)
            self._mode.timeline = None  # storages freed after the call are not part of it
            retained, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            # What was freed again by the end: numpy's temporaries count, modules imported on the way do not.
            self.peak_bytes = self._mode.peak + traced_peak - retained
        return False
