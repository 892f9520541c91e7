"""Numerical comparison: the tolerance rule, its refusals and a report that fits on one screen."""

import pytest
import torch

from pytest_diffchallenge import figures
from pytest_diffchallenge.compare import FIRST_MISMATCHES_SHOWN, assert_matches, assert_near_truth, assert_same_keys
from pytest_diffchallenge.faults import MismatchError, SubmissionFault, classify
from pytest_diffchallenge.verdict import Reason, Status

NAN, INF = float("nan"), float("inf")


@pytest.fixture
def recorded():
    """The figures compare records for the running test; reset afterwards so no other test sees them."""
    current = figures.start_test()
    yield current
    figures._current = None


def fails(actual, expected, **kwargs) -> str:
    kwargs.setdefault("rtol", 0.0)
    kwargs.setdefault("atol", 0.0)
    with pytest.raises(MismatchError) as caught:
        assert_matches(actual, expected, **kwargs)
    return str(caught.value)


EXPECTED = torch.tensor([[1.0, -2.0, 0.0], [4.0, -8.0, 0.5]], dtype=torch.float64)
RTOL, ATOL = 1e-2, 1e-3
ALLOWED = ATOL + RTOL * EXPECTED.abs()


@pytest.mark.parametrize("sign", [1, -1])
def test_passes_within_atol_plus_rtol_times_expected(sign):
    assert_matches(EXPECTED + sign * 0.99 * ALLOWED, EXPECTED, rtol=RTOL, atol=ATOL)
    assert_matches(EXPECTED.clone(), EXPECTED, rtol=0.0, atol=0.0)  # exact equality with no tolerance


@pytest.mark.parametrize("index", [(0, 0), (0, 1), (0, 2), (1, 1)])
@pytest.mark.parametrize("sign", [1, -1])
def test_fails_just_outside_the_tolerance_of_one_element(index, sign):
    actual = EXPECTED + 0.5 * ALLOWED
    actual[index] = EXPECTED[index] + sign * 1.01 * ALLOWED[index]
    message = fails(actual, EXPECTED, rtol=RTOL, atol=ATOL)
    assert "1 of 6 elements differ" in message
    assert f"{index}:" in message


def test_the_tolerance_is_relative_to_the_expected_value_not_the_output():
    expected = torch.tensor([1.0, 2.0], dtype=torch.float64)
    actual = torch.tensor([1.5, 2.0], dtype=torch.float64)  # |error| 0.5 > 0.4 * |expected|, < 0.4 * |actual|
    assert "1 of 2 elements differ" in fails(actual, expected, rtol=0.4, atol=0.0)
    assert_matches(expected, actual, rtol=0.4, atol=0.0)  # the other way round: 0.5 <= 0.4 * 1.5


def test_low_precision_outputs_are_compared_in_float64():
    expected = torch.linspace(-3, 3, 50)
    assert_matches(expected.bfloat16(), expected.bfloat16(), rtol=0, atol=0)
    assert_matches(expected.bfloat16(), expected, rtol=1e-2, atol=1e-2, check_dtype=False)
    fails(expected.bfloat16(), expected, rtol=0, atol=0, check_dtype=False)


def test_a_shape_mismatch_is_reported_with_both_shapes():
    message = fails(torch.zeros(2, 3), torch.zeros(3, 2), name="latents")
    assert message.startswith("latents: does not match the expected output")
    assert "shape (2, 3) != expected (3, 2)" in message


def test_a_broadcastable_shape_is_still_a_mismatch():
    assert "shape (3,) != expected (1, 3)" in fails(torch.zeros(3), torch.zeros(1, 3))


def test_a_dtype_mismatch_is_reported_unless_dtype_is_not_checked():
    message = fails(torch.zeros(3, dtype=torch.float16), torch.zeros(3, dtype=torch.float32))
    assert "dtype torch.float16 != expected torch.float32" in message
    assert_matches(torch.zeros(3, dtype=torch.float16), torch.zeros(3), rtol=0, atol=0, check_dtype=False)


@pytest.mark.parametrize("actual", [None, [1.0, 2.0], 1.0, "tensor", {"x": 1}], ids=lambda v: type(v).__name__)
def test_an_output_that_is_not_a_tensor_is_a_mismatch(actual):
    assert f"expected a tensor, got {type(actual).__name__}" in fails(actual, torch.zeros(2))


def test_nan_and_inf_at_the_expected_positions_pass():
    expected = torch.tensor([NAN, 1.0, INF, -INF, 2.0])
    assert_matches(expected.clone(), expected, rtol=0, atol=0)
    assert_matches(expected + torch.tensor([0, 1e-4, 0, 0, -1e-4]), expected, rtol=0, atol=1e-3)


@pytest.mark.parametrize("actual, expected, what", [
    ([NAN, 1.0, 2.0], [0.0, 1.0, 2.0], "NaN in output: 1"),  # NaN where a number is expected
    ([INF, 1.0, 2.0], [0.0, 1.0, 2.0], "inf in output: 1"),  # inf where a number is expected
    ([0.0, 1.0, 2.0], [NAN, 1.0, 2.0], "NaN in output: 0"),  # a number where NaN is expected
], ids=["unexpected-nan", "unexpected-inf", "missing-nan"])
def test_nan_or_inf_where_not_expected_fails_whatever_the_tolerance(actual, expected, what):
    message = fails(torch.tensor(actual), torch.tensor(expected), atol=1e9, rtol=1e9)
    assert "1 of 3 elements differ" in message
    assert "NaN/inf where not expected (or missing): 1 elements" in message
    assert what in message


def test_an_infinity_of_the_wrong_sign_or_nan_for_inf_fails():
    expected = torch.tensor([INF, -INF, 1.0])
    assert "1 elements" in fails(torch.tensor([-INF, -INF, 1.0]), expected, atol=1e9)
    assert "1 elements" in fails(torch.tensor([NAN, -INF, 1.0]), expected, atol=1e9)


def test_an_all_nan_output_fails():
    message = fails(torch.full((4,), NAN), torch.arange(4.0), atol=1e9, rtol=1e9)
    assert "4 of 4 elements differ" in message and "NaN in output: 4" in message


def test_a_constant_output_fails_where_the_expected_output_varies_even_with_a_huge_atol():
    expected = torch.linspace(-1, 1, 64).reshape(8, 8)
    message = fails(torch.zeros(8, 8), expected, atol=1e6, rtol=1e6)
    assert "output is constant (0) but the expected output varies" in message
    assert "constant (0.5)" in fails(torch.full((8, 8), 0.5), expected, atol=1e6)


def test_a_constant_output_passes_where_the_expected_output_is_constant_too():
    assert_matches(torch.zeros(3, 4), torch.zeros(3, 4), rtol=0, atol=0)
    assert_matches(torch.full((5,), 2.0), torch.full((5,), 2.0 + 1e-7), rtol=0, atol=1e-6)


def test_a_single_element_and_an_empty_output_are_not_refused_as_constant():
    assert_matches(torch.tensor([3.0]), torch.tensor([3.0005]), rtol=0, atol=1e-3)
    assert_matches(torch.tensor(3.0), torch.tensor(3.0005), rtol=0, atol=1e-3)
    assert_matches(torch.empty(0, 4), torch.empty(0, 4), rtol=0, atol=0)


def test_the_report_gives_the_count_the_tolerance_the_largest_error_and_the_first_mismatches():
    expected = torch.arange(20.0).reshape(4, 5)
    actual = expected.clone()
    wrong = [(0, 1), (0, 3), (1, 0), (2, 2), (2, 4), (3, 0), (3, 4)]
    for n, index in enumerate(wrong):
        actual[index] += 1.0 + n  # the largest error is the last one: 7
    message = fails(actual, expected, rtol=1e-3, atol=1e-2, name="noise_pred")
    lines = message.splitlines()
    assert lines[0] == "noise_pred: does not match the expected output"
    assert lines[1] == "  7 of 20 elements differ (35.00%); tolerance atol=0.01, rtol=0.001"
    assert "max abs error 7, relative to the expected scale 0.368" in message  # 7 / max |expected| (19)
    first = lines[lines.index("  first mismatches (index: got vs expected):") + 1:]
    assert len(first) == FIRST_MISMATCHES_SHOWN == 5
    assert first[0] == "    (0, 1): 2 vs 1"
    assert first[1] == "    (0, 3): 5 vs 3"
    assert [line.split(":")[0].strip() for line in first] == [str(index) for index in wrong[:5]]
    assert "(3, 0)" not in message and "(3, 4)" not in message
    assert len(lines) <= 12, "the report fits on one screen"


def test_a_large_mismatch_is_reported_in_a_few_lines():
    message = fails(torch.arange(10_000.0) + 1, torch.arange(10_000.0))
    assert "10000 of 10000 elements differ (100.00%)" in message
    assert len(message.splitlines()) == 4 + FIRST_MISMATCHES_SHOWN


def test_the_largest_errors_are_recorded_as_figures(recorded):
    expected = torch.tensor([1.0, 2.0, 4.0])
    assert_matches(expected + torch.tensor([0.0, 0.01, -0.02]), expected, rtol=0, atol=0.05)
    assert recorded["max_abs_error"] == pytest.approx(0.02, rel=1e-5)
    assert recorded["max_rel_error"] == pytest.approx(0.005, rel=1e-5)
    assert_matches(expected + 0.001, expected, rtol=0, atol=0.05)  # a second, better comparison in the test
    assert recorded["max_abs_error"] == pytest.approx(0.02, rel=1e-5), "the largest error of the test is kept"
    fails(expected * 10, expected)
    assert recorded["max_abs_error"] == pytest.approx(36.0)


def test_a_mismatch_is_the_submission_fault_of_a_wrong_output():
    assert issubclass(MismatchError, SubmissionFault) and issubclass(MismatchError, AssertionError)
    with pytest.raises(MismatchError) as caught:
        assert_matches(torch.ones(2), torch.zeros(2), rtol=0, atol=0)
    assert caught.value.reason is Reason.WRONG_OUTPUT
    assert classify(caught.value) == (Status.FAILED, Reason.WRONG_OUTPUT)


def test_same_keys_passes_whatever_the_order():
    assert_same_keys({"b": 1, "a": 2}, {"a": 0, "b": 0})
    assert_same_keys({}, {})


def test_same_keys_lists_missing_and_unexpected_keys():
    with pytest.raises(MismatchError) as caught:
        assert_same_keys({"a": 1, "x": 2}, {"a": 1, "b": 2, "c": 3}, name="lora weights")
    message = str(caught.value)
    assert message.splitlines() == ["lora weights: keys differ", "  missing (2): b, c", "  unexpected (1): x"]
    assert caught.value.reason is Reason.WRONG_OUTPUT


def test_same_keys_shows_at_most_five_keys_of_each_kind():
    expected = {f"layer.{i:02d}": 0 for i in range(12)}
    with pytest.raises(MismatchError) as caught:
        assert_same_keys({}, expected)
    message = str(caught.value)
    assert "missing (12): layer.00, layer.01, layer.02, layer.03, layer.04 ..." in message
    assert "layer.05" not in message and "unexpected" not in message


# -- against float64 truth --------------------------------------------------------------------------------------
def attention(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, -1) @ x


def softmax_in(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """An accumulated computation: the library's result in ``dtype`` and the float64 truth."""
    x = (torch.randn(64, 64, generator=torch.Generator().manual_seed(0)) * 4).to(dtype)
    return attention(x), attention(x.double())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_more_accurate_than_the_library_passes_against_truth(dtype):
    library, truth = softmax_in(dtype)
    assert_near_truth(library, library, truth, multiple=4)
    assert_near_truth(truth.to(dtype), library, truth, multiple=4)  # computed in float64, rounded once
    x = (torch.randn(64, 64, generator=torch.Generator().manual_seed(0)) * 4).to(dtype)
    assert_near_truth(attention(x.float()).to(dtype), library, truth, multiple=4)  # rounded elsewhere


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_a_wrong_result_fails_against_truth(dtype):
    library, truth = softmax_in(dtype)
    with pytest.raises(MismatchError, match="against float64 truth"):
        assert_near_truth((truth * 1.1).to(dtype), library, truth, multiple=4)
    with pytest.raises(MismatchError, match="dtype torch.float32 != expected"):
        assert_near_truth(truth.float(), library, truth, multiple=4)
