"""Numerical comparison with a report that fits on one screen.

``assert_matches`` passes when ``|actual - expected| <= atol + rtol * |expected|`` everywhere, like
``torch.testing.assert_close``, but it runs only in the trusted process, refuses constant outputs where
the expected one varies (an all-zero answer must not pass an absolute tolerance), and records the largest
error of the test for its report (and the tensors themselves, when the session keeps artifacts).

``assert_near_truth`` judges a low-precision (or accumulated) result against a float64 computation of the
same thing: within a small multiple of the library's own error there, plus one ulp of the output dtype, so
that a solution more accurate than the library never loses a point.
"""

from __future__ import annotations

import torch

from pytest_diffchallenge import artifacts, figures
from pytest_diffchallenge.faults import MismatchError

FIRST_MISMATCHES_SHOWN = 5


def _fail(name: str, lines: list[str]):
    raise MismatchError("\n".join([f"{name}: does not match the expected output", *lines]))


def assert_matches(actual, expected: torch.Tensor, *, rtol: float, atol: float, name: str = "output",
                   check_dtype: bool = True) -> None:
    artifacts.record_comparison(name, actual, expected, rtol=rtol, atol=atol)
    _compare(actual, expected, rtol=rtol, atol=atol, name=name, check_dtype=check_dtype)


def _compare(actual, expected: torch.Tensor, *, rtol: float, atol: float, name: str, check_dtype: bool) -> None:
    if not isinstance(actual, torch.Tensor):
        _fail(name, [f"  expected a tensor, got {type(actual).__name__}"])
    if actual.shape != expected.shape:
        _fail(name, [f"  shape {tuple(actual.shape)} != expected {tuple(expected.shape)}"])
    if check_dtype and actual.dtype != expected.dtype:
        _fail(name, [f"  dtype {actual.dtype} != expected {expected.dtype}"])
    got = actual.detach().to("cpu", torch.float64)
    want = expected.detach().to("cpu", torch.float64)
    lines = []

    got_nonfinite, want_nonfinite = ~torch.isfinite(got), ~torch.isfinite(want)
    bad_nonfinite = got_nonfinite != want_nonfinite
    both_nonfinite = got_nonfinite & want_nonfinite
    bad_nonfinite |= both_nonfinite & ~((got == want) | (got.isnan() & want.isnan()))
    if bad_nonfinite.any():
        lines.append(f"  NaN/inf where not expected (or missing): {int(bad_nonfinite.sum())} elements "
                     f"(NaN in output: {int(got.isnan().sum())}, inf in output: {int(got.isinf().sum())})")

    finite = ~(got_nonfinite | want_nonfinite)
    error = torch.where(finite, (got - want).abs(), torch.zeros_like(got))
    allowed = atol + rtol * want.abs()
    mismatch = (finite & (error > allowed)) | bad_nonfinite
    max_abs = float(error.max()) if error.numel() else 0.0
    scale = float(want[finite].abs().max()) if finite.any() else 0.0
    max_rel = max_abs / scale if scale else (0.0 if max_abs == 0 else float("inf"))
    figures.record_max("max_abs_error", max_abs)
    figures.record_max("max_rel_error", max_rel)

    if got.numel() > 1 and finite.all() and bool((got == got.flatten()[0]).all()) \
            and not bool((want == want.flatten()[0]).all()):
        _fail(name, [f"  output is constant ({float(got.flatten()[0]):.6g}) but the expected output varies"])
    if mismatch.any():
        count = int(mismatch.sum())
        lines.insert(0, f"  {count} of {got.numel()} elements differ ({100 * count / got.numel():.2f}%); "
                        f"tolerance atol={atol:g}, rtol={rtol:g}")
        lines.append(f"  max abs error {max_abs:.3g}, relative to the expected scale {max_rel:.3g}")
        lines.append("  first mismatches (index: got vs expected):")
        for index in mismatch.nonzero()[:FIRST_MISMATCHES_SHOWN].tolist():
            lines.append(f"    {tuple(index)}: {float(got[tuple(index)]):.6g} vs {float(want[tuple(index)]):.6g}")
        _fail(name, lines)


def assert_near_truth(actual, library: torch.Tensor, truth: torch.Tensor, *, multiple: float,
                      name: str = "output") -> None:
    """``|actual - truth| <= multiple * max|library - truth| + eps(dtype) * |truth|`` everywhere.

    The library's largest error sets the scale because a correct solution that rounds in another order errs
    elsewhere than the library, not more; ``eps * |truth|`` (about one ulp) is the rounding of the output itself.
    """
    if isinstance(actual, torch.Tensor) and actual.dtype != library.dtype:
        _fail(name, [f"  dtype {actual.dtype} != expected {library.dtype}"])
    truth64 = truth.detach().to("cpu", torch.float64)
    finite = torch.isfinite(truth64)
    library_error = (library.detach().to("cpu", torch.float64) - truth64).abs()[finite]
    library_max = float(library_error.max()) if library_error.numel() else 0.0
    rtol, atol = torch.finfo(library.dtype).eps, multiple * library_max
    # What a person wants to see is the candidate against the library's output, with the tolerance applied.
    artifacts.record_comparison(name, actual, library, rtol=rtol, atol=atol)
    _compare(actual, truth64, rtol=rtol, atol=atol, check_dtype=False,
             name=f"{name} (against float64 truth: {multiple:g} x the library's error {library_max:.3g}, + 1 ulp)")


def assert_same_keys(actual: dict, expected: dict, *, name: str = "state dict") -> None:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    if missing or extra:
        lines = [f"{name}: keys differ"]
        if missing:
            lines.append(f"  missing ({len(missing)}): {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        if extra:
            lines.append(f"  unexpected ({len(extra)}): {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}")
        raise MismatchError("\n".join(lines))
