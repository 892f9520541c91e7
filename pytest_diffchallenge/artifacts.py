"""What a test saw, kept beside the verdict for the reports to draw: the tensors it compared, its timed runs, the
memory timeline of its memory-graded call. The only code that knows the format of ``out/artifacts/``.

The trusted session records them as the test runs (``start_test``; ``compare`` and ``checks`` call the
``record_*`` functions, which do nothing outside a recorded test, so in a worker too) and ``ArtifactWriter``
keeps them: ``index.json`` holds every test's names, tolerances, samples and timeline, and one ``NNN.safetensors``
per test its tensors. ``read_artifacts`` validates everything it reads back and drops a malformed test's entry.
Nothing here decides a grade. The worker's memory timeline keeps to this format's bounds (``worker.memory``).

torch is imported where tensors are handled, not with the module: the CLI's read-only commands import the grading
code, which names the artifacts' folder, without torch.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

ARTIFACTS_DIR = "artifacts"
INDEX_FILE = "index.json"
FORMAT_VERSION = 1
MAX_COMPARISONS = 8
MAX_ELEMENTS = 1 << 20  # per tensor; a larger one is kept as the first MAX_ELEMENTS of its flattened values
MAX_RUNTIME_SAMPLES = 200
MAX_MEMORY_SAMPLES = 4000  # of one measured call's timeline, in the worker as here
MAX_PHASES = 500
PHASE_LABEL_CHARS = 60
NAME_CHARS = 300
MAX_BYTES = 1 << 50  # a petabyte: beyond any machine, so beyond any honest memory figure
MAX_INDEX_BYTES = 64 * 1024**2
# What a comparison's tensor is kept as: float16 and bfloat16 widen to float32, bool becomes uint8.
KEPT_DTYPES = ("float32", "float64", "uint8", "int8", "int16", "int32", "int64")
MAX_TENSOR_FILE_BYTES = 2 * MAX_COMPARISONS * MAX_ELEMENTS * 8 + MAX_INDEX_BYTES  # the header's room included
TENSOR_FILE = re.compile(r"[0-9]{3,9}\.safetensors")


@dataclass(frozen=True)
class Comparison:
    """One tensor the test compared, as the trusted side saw it (values may be NaN or inf, as they came)."""

    name: str
    got: torch.Tensor
    expected: torch.Tensor
    rtol: float
    atol: float
    cut: bool = False


@dataclass(frozen=True)
class RuntimeSamples:
    """``runtime.check``'s timed runs, in seconds."""

    candidate_s: tuple[float, ...]
    reference_s: tuple[float, ...]  # run n of each was a pair, back to back
    budget: float  # the allowed median ratio candidate/reference

    @property
    def ratio(self) -> float:
        """The median of the pairs' ratios candidate/reference: the figure the budget judges (load on the machine
        hits both runs of a pair alike, so it is steadier than the ratio of the medians)."""
        return statistics.median(c / r for c, r in zip(self.candidate_s, self.reference_s, strict=True))


@dataclass(frozen=True)
class MemoryTimeline:
    """Allocated memory over one memory-graded call, sampled in the worker: drawn, never graded."""

    samples: tuple[tuple[float, float], ...]  # (seconds since the call started, live bytes), time ascending
    phases: tuple[tuple[float, str], ...]  # (seconds, label) where a phase begins
    ceiling_bytes: float | None  # the test's memory ceiling, if any
    peak_bytes: float  # the trusted peak figure of that call


@dataclass(frozen=True)
class TestArtifacts:
    __test__ = False  # not a pytest test class

    nodeid: str
    comparisons: tuple[Comparison, ...] = ()
    runtime: RuntimeSamples | None = None
    memory: MemoryTimeline | None = None


def keep_peaks(samples: list[tuple[float, float]], limit: int) -> list[tuple[float, float]]:
    """At most ``limit`` samples: consecutive buckets of equal length, each kept as its largest sample."""
    if len(samples) <= limit:
        return list(samples)
    size = math.ceil(len(samples) / limit)
    return [max(samples[start:start + size], key=lambda sample: sample[1]) for start in range(0, len(samples), size)]


# -- validation, shared by the worker's reply (client.Reply) and the reader ----------------------------------
def _number(value, *, low: float = 0.0, high: float = math.inf) -> float:
    if type(value) not in (int, float) or not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"not a number from {low:g} to {high:g}: {value!r}")
    return float(value)


def _ascending(times: list[float], what: str) -> None:
    if any(later < earlier for earlier, later in itertools.pairwise(times)):
        raise ValueError(f"{what} are not in time order")


def checked_timeline(samples, phases) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, str], ...]]:
    """``samples`` [[seconds, bytes], ...] and ``phases`` [[seconds, label], ...] as tuples, or a ValueError."""
    if not isinstance(samples, list) or not 1 <= len(samples) <= MAX_MEMORY_SAMPLES:
        raise ValueError(f"samples: a list of 1 to {MAX_MEMORY_SAMPLES}")
    if not isinstance(phases, list) or len(phases) > MAX_PHASES:
        raise ValueError(f"phases: a list of at most {MAX_PHASES}")
    if not all(isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in samples + phases):
        raise ValueError("a sample or phase that is not a pair")
    kept_samples = tuple((_number(t), _number(live, high=MAX_BYTES)) for t, live in samples)
    kept_phases = tuple((_number(t), _label(label)) for t, label in phases)
    _ascending([t for t, _ in kept_samples], "samples")
    _ascending([t for t, _ in kept_phases], "phases")
    return kept_samples, kept_phases


def _label(label) -> str:
    if not isinstance(label, str) or not 0 < len(label) <= PHASE_LABEL_CHARS or not label.isprintable():
        raise ValueError(f"not a phase label: {str(label)[:PHASE_LABEL_CHARS]!r}")
    return label


def _name(name) -> str:
    if not isinstance(name, str) or not 0 < len(name) <= NAME_CHARS:
        raise ValueError("not a name")
    return name


# -- recording, in the trusted session ---------------------------------------------------------------------
class _Recording:
    def __init__(self):
        self.comparisons: list[Comparison] = []
        self.runtime: RuntimeSamples | None = None
        self.memory: MemoryTimeline | None = None


_current: _Recording | None = None


def start_test() -> None:
    """Record what the test that starts now compares, times and measures (the session calls it when keeping them)."""
    global _current
    _current = _Recording()


def _kept(tensor: torch.Tensor) -> tuple[torch.Tensor, bool] | None:
    import torch

    tensor = tensor.detach().to("cpu")
    if tensor.dtype == torch.bool:
        tensor = tensor.to(torch.uint8)
    elif tensor.dtype in (torch.float16, torch.bfloat16):
        tensor = tensor.to(torch.float32)
    if _dtype_name(tensor) not in KEPT_DTYPES:
        return None
    if tensor.numel() > MAX_ELEMENTS:
        return tensor.flatten()[:MAX_ELEMENTS].clone(), True
    return tensor.clone(), False


def record_comparison(name: str, got, expected: torch.Tensor, *, rtol: float, atol: float) -> None:
    """The first MAX_COMPARISONS - 1 comparisons of a test and its latest one (the one that failed, if any)."""
    if _current is None:
        return  # the common case: every comparison of a grading that keeps no artifacts
    import torch

    if not isinstance(got, torch.Tensor) or not math.isfinite(rtol) or not math.isfinite(atol):
        return  # nothing to draw: no tensor, or no tolerance band
    kept_got, kept_expected = _kept(got), _kept(expected)
    if kept_got is None or kept_expected is None:
        return
    comparison = Comparison(name=name[:NAME_CHARS], got=kept_got[0], expected=kept_expected[0], rtol=float(rtol),
                            atol=float(atol), cut=kept_got[1] or kept_expected[1])
    if len(_current.comparisons) == MAX_COMPARISONS:
        _current.comparisons[-1] = comparison
    else:
        _current.comparisons.append(comparison)


def record_runtime(samples: RuntimeSamples) -> None:
    if _current is not None:
        _current.runtime = RuntimeSamples(samples.candidate_s[:MAX_RUNTIME_SAMPLES],
                                          samples.reference_s[:MAX_RUNTIME_SAMPLES], float(samples.budget))


def record_memory(timeline: MemoryTimeline) -> None:
    """Of a test's memory-graded calls, the one with the highest peak is kept."""
    if _current is not None and (_current.memory is None or timeline.peak_bytes > _current.memory.peak_bytes):
        samples = keep_peaks(list(timeline.samples), MAX_MEMORY_SAMPLES)
        phases = tuple((t, label[:PHASE_LABEL_CHARS]) for t, label in timeline.phases[:MAX_PHASES])
        _current.memory = MemoryTimeline(tuple(samples), phases, timeline.ceiling_bytes, timeline.peak_bytes)


def finish_test(nodeid: str) -> TestArtifacts | None:
    """What the test recorded since ``start_test``; None when it recorded nothing (or nothing was started)."""
    global _current
    recording, _current = _current, None
    if recording is None or not (recording.comparisons or recording.runtime or recording.memory):
        return None
    return TestArtifacts(nodeid=nodeid, comparisons=tuple(recording.comparisons), runtime=recording.runtime,
                         memory=recording.memory)


# -- the format ----------------------------------------------------------------------------------------------
def _dtype_name(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


class ArtifactWriter:
    """Keeps each finished test's artifacts in ``folder`` (out/artifacts/); the index is rewritten whole each time."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.index: dict[str, dict] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, test: TestArtifacts) -> None:
        from safetensors.torch import save_file

        entry: dict = {"tensors": None, "comparisons": [], "runtime": None, "memory": None}
        if test.comparisons:
            # A test that runs again (a rerun plugin) replaces its entry, and its file.
            number = list(self.index).index(test.nodeid) if test.nodeid in self.index else len(self.index)
            entry["tensors"] = f"{number:03d}.safetensors"
            tensors = {}
            for position, comparison in enumerate(test.comparisons):
                tensors[f"{position}.got"] = comparison.got.contiguous()
                tensors[f"{position}.expected"] = comparison.expected.contiguous()
                entry["comparisons"].append({
                    "name": comparison.name, "rtol": comparison.rtol, "atol": comparison.atol, "cut": comparison.cut,
                    "got": {"dtype": _dtype_name(comparison.got), "shape": list(comparison.got.shape)},
                    "expected": {"dtype": _dtype_name(comparison.expected), "shape": list(comparison.expected.shape)}})
            save_file(tensors, str(self.folder / entry["tensors"]))
        if test.runtime is not None:
            entry["runtime"] = {"candidate_s": list(test.runtime.candidate_s),
                                "reference_s": list(test.runtime.reference_s), "budget": test.runtime.budget}
        if test.memory is not None:
            entry["memory"] = {"samples": [list(s) for s in test.memory.samples],
                               "phases": [list(p) for p in test.memory.phases],
                               "ceiling_bytes": test.memory.ceiling_bytes, "peak_bytes": test.memory.peak_bytes}
        self.index[test.nodeid] = entry
        partial = self.folder / f".{INDEX_FILE}.partial"
        partial.write_text(json.dumps({"version": FORMAT_VERSION, "tests": self.index}, allow_nan=False))
        os.replace(partial, self.folder / INDEX_FILE)  # a reader never sees half an index


def is_artifact_file(name: str) -> bool:
    """Whether ``name`` is a file this format writes (what a copy of ``out/artifacts/`` takes along)."""
    return name == INDEX_FILE or TENSOR_FILE.fullmatch(name) is not None


def read_artifacts(out: Path) -> dict[str, TestArtifacts]:
    """Every test's artifacts in out/artifacts/, by nodeid; {} when there are none. Validates everything (sizes,
    finiteness, shapes, ordering); a malformed file drops that test's artifacts, never raises."""
    folder = out / ARTIFACTS_DIR
    try:
        with open(folder / INDEX_FILE, "rb") as index_file:
            text = index_file.read(MAX_INDEX_BYTES + 1)
        document = json.loads(text) if len(text) <= MAX_INDEX_BYTES else None
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION \
            or not isinstance(document.get("tests"), dict):
        return {}
    found = {}
    for nodeid, entry in document["tests"].items():
        try:
            found[nodeid] = _read_entry(folder, _name(nodeid), entry)
        except Exception:  # noqa: BLE001 - whatever is wrong with one entry (safetensors' errors included) drops it
            continue
    return found


def _exact_keys(value, keys: set[str]) -> dict:
    if not isinstance(value, dict) or set(value) != keys:
        raise ValueError(f"expected exactly the keys {sorted(keys)}")
    return value


def _read_entry(folder: Path, nodeid: str, entry) -> TestArtifacts:
    entry = _exact_keys(entry, {"tensors", "comparisons", "runtime", "memory"})
    comparisons = _read_comparisons(folder, entry["tensors"], entry["comparisons"])
    runtime = None
    if entry["runtime"] is not None:
        timed = _exact_keys(entry["runtime"], {"candidate_s", "reference_s", "budget"})
        runs = []
        for key in ("candidate_s", "reference_s"):
            if not isinstance(timed[key], list) or not 1 <= len(timed[key]) <= MAX_RUNTIME_SAMPLES:
                raise ValueError(f"{key}: a list of 1 to {MAX_RUNTIME_SAMPLES}")
            runs.append(tuple(_number(seconds) for seconds in timed[key]))
        if len(runs[0]) != len(runs[1]):
            raise ValueError("the timed runs are not in pairs")
        runtime = RuntimeSamples(runs[0], runs[1], _number(timed["budget"]))
    memory = None
    if entry["memory"] is not None:
        measured = _exact_keys(entry["memory"], {"samples", "phases", "ceiling_bytes", "peak_bytes"})
        samples, phases = checked_timeline(measured["samples"], measured["phases"])
        ceiling = None if measured["ceiling_bytes"] is None else _number(measured["ceiling_bytes"], high=MAX_BYTES)
        memory = MemoryTimeline(samples, phases, ceiling, _number(measured["peak_bytes"], high=MAX_BYTES))
    return TestArtifacts(nodeid=nodeid, comparisons=comparisons, runtime=runtime, memory=memory)


def _tensor_spec(value) -> tuple[str, tuple[int, ...]]:
    spec = _exact_keys(value, {"dtype", "shape"})
    shape = spec["shape"]
    if spec["dtype"] not in KEPT_DTYPES or not isinstance(shape, list) or len(shape) > 64 \
            or not all(type(size) is int and size >= 0 for size in shape) or math.prod(shape) > MAX_ELEMENTS:
        raise ValueError("not a kept tensor's dtype and shape")
    return spec["dtype"], tuple(shape)


def _read_comparisons(folder: Path, file_name, listed) -> tuple[Comparison, ...]:
    if not isinstance(listed, list) or len(listed) > MAX_COMPARISONS or bool(listed) != (file_name is not None):
        raise ValueError(f"comparisons: at most {MAX_COMPARISONS}, with their tensors' file")
    if not listed:
        return ()
    if not isinstance(file_name, str) or not TENSOR_FILE.fullmatch(file_name):
        raise ValueError("not a tensor file's name")
    path = folder / file_name
    status = path.lstat()
    if not path.is_file() or path.is_symlink() or status.st_size > MAX_TENSOR_FILE_BYTES:
        raise ValueError("the tensors' file is not a regular file within the size limit")
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    if set(tensors) != {f"{position}.{side}" for position in range(len(listed)) for side in ("got", "expected")}:
        raise ValueError("the tensors' file does not hold the listed comparisons")
    comparisons = []
    for position, item in enumerate(listed):
        item = _exact_keys(item, {"name", "rtol", "atol", "cut", "got", "expected"})
        sides = {}
        for side in ("got", "expected"):
            dtype, shape = _tensor_spec(item[side])
            tensor = tensors[f"{position}.{side}"]
            if _dtype_name(tensor) != dtype or tuple(tensor.shape) != shape:
                raise ValueError(f"comparison {position}: {side} is not the listed dtype and shape")
            sides[side] = tensor
        if type(item["cut"]) is not bool:
            raise ValueError("cut: not a bool")
        comparisons.append(Comparison(name=_name(item["name"]), got=sides["got"], expected=sides["expected"],
                                      rtol=_number(item["rtol"]), atol=_number(item["atol"]), cut=item["cut"]))
    return tuple(comparisons)
