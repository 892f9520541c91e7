"""The figures of the HTML report, each a small deterministic PNG, and the numbers printed beside them.

matplotlib's object-oriented API on the Agg canvas (no pyplot, no GUI backend, no global state). Text that
comes from a grading (a phase label, a comparison's name) is drawn with ``parse_math=False``: a ``$`` in it
is a character, not mathtext to parse.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

if TYPE_CHECKING:
    from pytest_diffchallenge.artifacts import MemoryTimeline

DPI = 72
STYLE: dict[RcKeyType, Any] = {"font.size": 8, "axes.titlesize": 8, "figure.dpi": DPI}
MAX_SIDE = 128  # pixels a side of an image drawn (about its size on the page); bigger ones are reduced by blocks
MIN_SIDE = 4  # smaller outputs are not pictures
MAX_ASPECT = 8  # a longer side than this many times the shorter: not a picture
MAX_PHASE_LABELS = 8  # a denoising loop has dozens of "step N" phases: label a few, evenly spread
MIB = 1024**2


# -- the numbers --------------------------------------------------------------------------------------------
def as_array(tensor) -> np.ndarray:
    """A tensor (float or integer, CPU) as float64 numpy."""
    return tensor.detach().double().numpy()


def max_abs_error(got: np.ndarray, expected: np.ndarray) -> float:
    """The largest absolute difference: inf or nan where the candidate's output is not finite."""
    difference = np.abs(got - expected)
    return float("nan") if np.isnan(difference).any() else float(difference.max(initial=0.0))


def psnr_db(got: np.ndarray, expected: np.ndarray) -> float | None:
    """Peak signal-to-noise ratio in dB, the peak being the expected output's range; inf when identical, None
    when undefined (an expected output that is constant, or a candidate's that is not finite)."""
    if not np.isfinite(got).all():
        return None
    mse = float(np.mean((got - expected) ** 2))
    if mse == 0.0:
        return math.inf
    peak = float(expected.max() - expected.min())
    return 10.0 * math.log10(peak**2 / mse) if peak > 0 else None


def image_planes(array: np.ndarray) -> np.ndarray | None:
    """(C, H, W) when the array looks like an image or latents, of which the first of a batch is drawn:
    (..., C, H, W) with C from 1 to 4, or (H, W); H and W at least MIN_SIDE, and neither more than MAX_ASPECT
    times the other. Else None."""
    while array.ndim > 3:
        array = array[0]
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or not 1 <= array.shape[0] <= 4 or min(array.shape[1:]) < MIN_SIDE \
            or max(array.shape[1:]) > MAX_ASPECT * min(array.shape[1:]):  # a sequence of tokens, not a picture
        return None
    return array


# -- images of outputs --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutputImages:
    png: bytes  # expected, candidate and difference side by side
    shown_as: str  # how the channels are drawn, for the caption
    difference_scale: float  # the heatmap's colour scale runs from 0 to this


def reduce_blocks(planes: np.ndarray, reduce: Callable[..., np.ndarray]) -> np.ndarray:
    """(C, H, W) reduced by square blocks to at most MAX_SIDE pixels a side."""
    channels, height, width = planes.shape
    tall, wide = math.ceil(height / MAX_SIDE), math.ceil(width / MAX_SIDE)  # each side its own block
    if tall == wide == 1:
        return planes
    height, width = height // tall * tall, width // wide * wide
    blocks = planes[:, :height, :width].reshape(channels, height // tall, tall, width // wide, wide)
    return reduce(blocks, axis=(2, 4))


def displayable(expected: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Both outputs as (H, W, 3) RGB or (H, W) grey in [0, 1], scaled by the expected output's range, so that
    a wrong value shows as a wrong colour."""
    channels = expected.shape[0]
    if channels == 4:
        shown_as = "channels 0-2 of 4 as RGB, each normalised to its expected range"
        low = expected[:3].min(axis=(1, 2), keepdims=True)
        high = expected[:3].max(axis=(1, 2), keepdims=True)
        expected, got = expected[:3], got[:3]
    else:
        shown_as = {1: "grey, scaled to the expected range", 2: "channel 0 of 2 in grey, scaled to its expected range",
                    3: "RGB, scaled to the expected range"}[channels]
        if channels == 2:
            expected, got = expected[:1], got[:1]
        low, high = expected.min(), expected.max()
    span = np.where(high > low, high - low, 1.0)

    def scaled(planes: np.ndarray) -> np.ndarray:
        unit = np.clip(np.nan_to_num((planes - low) / span, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
        return unit[0] if unit.shape[0] == 1 else np.moveaxis(unit, 0, -1)

    return scaled(expected), scaled(got), shown_as


def output_images(expected: np.ndarray, got: np.ndarray) -> OutputImages:
    """Expected, candidate and an amplified absolute-difference heatmap (its own scale, with a colour bar) of
    two (C, H, W) outputs of the same shape."""
    difference = np.abs(got - expected).max(axis=0, keepdims=True)
    finite = difference[np.isfinite(difference)]
    scale = float(finite.max(initial=0.0))
    difference = reduce_blocks(np.where(np.isfinite(difference), difference, scale), np.max)[0]
    shown_expected, shown_got, shown_as = displayable(reduce_blocks(expected, np.mean), reduce_blocks(got, np.mean))
    grey = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0} if shown_expected.ndim == 2 else {}
    with rc_context(STYLE):
        figure = Figure(figsize=(6.4, 2.2))
        axes = figure.subplots(1, 3)
        for ax, image, title in ((axes[0], shown_expected, "expected"), (axes[1], shown_got, "candidate")):
            ax.imshow(image, interpolation="nearest", **grey)
            ax.set_title(title)
        heat = axes[2].imshow(difference, cmap="magma", vmin=0.0, vmax=scale or 1.0, interpolation="nearest")
        axes[2].set_title("|candidate - expected|")
        figure.colorbar(heat, ax=axes[2], fraction=0.046, pad=0.04)
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        figure.tight_layout()
        return OutputImages(png(figure), shown_as, scale)


# -- memory and runtime ---------------------------------------------------------------------------------------
def labelled_phases(count: int) -> set[int]:
    """Which of ``count`` phases get a label: all of a few, else MAX_PHASE_LABELS spread evenly, first and last
    among them."""
    if count <= MAX_PHASE_LABELS:
        return set(range(count))
    return {round(i * (count - 1) / (MAX_PHASE_LABELS - 1)) for i in range(MAX_PHASE_LABELS)}


def memory_chart(timeline: MemoryTimeline) -> bytes:
    """Allocated memory (MiB) over one call: phases as alternating bands, the ceiling, the peak."""
    seconds = [t for t, _ in timeline.samples]
    mib = [size / MIB for _, size in timeline.samples]
    end = max(seconds[-1] if seconds else 0.0, timeline.phases[-1][0] if timeline.phases else 0.0) or 1.0
    with rc_context(STYLE):
        figure = Figure(figsize=(7.2, 2.8))
        ax = figure.subplots()
        ax.plot(seconds, mib, color="tab:blue", linewidth=1.2, label="allocated")
        labelled = labelled_phases(len(timeline.phases))
        for index, (start, label) in enumerate(timeline.phases):
            stop = timeline.phases[index + 1][0] if index + 1 < len(timeline.phases) else end
            ax.axvspan(start, stop, color="0.9" if index % 2 else "0.96", linewidth=0, zorder=0)
            if index in labelled:
                ax.text(start, 1.0, f" {label[:24]}", transform=ax.get_xaxis_transform(), rotation=90,
                        va="top", ha="left", fontsize=7, color="0.3", parse_math=False)
        if timeline.ceiling_bytes is not None:
            ax.axhline(timeline.ceiling_bytes / MIB, color="tab:red", linestyle="--", linewidth=1,
                       label=f"ceiling {timeline.ceiling_bytes / MIB:.2f} MiB")
        peak_at = seconds[int(np.argmax(mib))] if mib else 0.0
        ax.plot([peak_at], [timeline.peak_bytes / MIB], marker="v", color="tab:orange", linestyle="none",
                label=f"peak {timeline.peak_bytes / MIB:.2f} MiB")
        highest = max([*mib, timeline.peak_bytes / MIB, (timeline.ceiling_bytes or 0.0) / MIB]) or 1.0
        ax.set_xlim(0.0, end)
        ax.set_ylim(0.0, highest * 1.35)  # room above the curve for the phase labels
        ax.set_xlabel("seconds since the call started")
        ax.set_ylabel("MiB")
        ax.legend(loc="best", fontsize=7)
        figure.tight_layout()
        return png(figure)


def runtime_chart(candidate_s: tuple[float, ...], reference_s: tuple[float, ...], budget: float) -> bytes:
    """The timed runs of both solutions (ms) as box plots with every run drawn, and the budget: the candidate's
    median may be at most ``budget`` times the reference's."""
    runs = [[s * 1000 for s in reference_s], [s * 1000 for s in candidate_s]]
    with rc_context(STYLE):
        figure = Figure(figsize=(7.2, 1.9))
        ax = figure.subplots()
        ax.boxplot(runs, orientation="horizontal", widths=0.5, showfliers=False, tick_labels=["reference", "candidate"])
        for row, values in enumerate(runs, start=1):
            spread = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
            ax.plot(values, row + spread, marker="o", markersize=3, linestyle="none", alpha=0.6, color="tab:blue")
        ax.axvline(float(np.median(runs[0])) * budget, color="tab:red", linestyle="--", linewidth=1,
                   label=f"budget: {budget:g} x the reference's median")
        ax.set_xlabel("ms per call")
        ax.set_xlim(left=0.0)
        ax.legend(loc="lower right", fontsize=7)
        figure.tight_layout()
        return png(figure)


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes, the same bytes for the same figure (no software or date in the metadata)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()
