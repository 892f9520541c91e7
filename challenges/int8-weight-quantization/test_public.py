"""Public tests for int8-weight-quantization: run them with `diffchallenge test`."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

# Measured: fp32 forwards (dequantize then matmul, or scale the int8 matmul's output) within 2e-7 of |x| @ |W|^T + |b|
# of the float64 result; a forward on the original fp32 weight is off by 2.5e-3.
FORWARD_RTOL = 2e-6
# Measured over 5 seeds: the reference's SD UNet within 1.6e-3 of the fp32 UNet's largest output.
UNET_BOUND = 5e-3


@pytest.mark.points(2)
@pytest.mark.covers("codes", "scales", "bias")
def test_codes_and_scales(submission, probes):
    weight, bias = seeded_randn((48, 64), 0, scale=0.05), seeded_randn((48,), 1)
    reply = submission.call("linear", weight=weight, bias=bias, inputs=[])
    probes.judge_codes_and_scales(reply, weight)
    probes.judge_bias(reply, bias)


@pytest.mark.points(2)
@pytest.mark.covers("forward")
def test_forward_on_2d_and_3d_inputs(submission, probes):
    weight, bias = seeded_randn((40, 96), 2, scale=0.1), seeded_randn((40,), 3)
    inputs = [seeded_randn((5, 96), 4), seeded_randn((2, 7, 96), 5, scale=3.0)]
    reply = submission.call("linear", weight=weight, bias=bias, inputs=inputs)
    probes.judge_outputs(reply, inputs, FORWARD_RTOL)


@pytest.mark.points(1)
@pytest.mark.covers("memory")
def test_weight_memory(submission, probes):
    """int8 codes are 25% of the fp32 weight, the fp32 scales another 1/in_features (0.8% here)."""
    weight, bias = seeded_randn((64, 128), 6, scale=0.05), seeded_randn((64,), 7)
    reply = submission.call("linear", weight=weight, bias=bias, inputs=[])
    probes.judge_codes_and_scales(reply, weight)
    probes.judge_memory(reply, weight, bias)


@pytest.mark.points(2)
@pytest.mark.covers("model", "memory")
def test_tiny_unet(submission, probes):
    """Every one of the 74 nn.Linear layers of a tiny SD UNet, then a forward pass."""
    probes.judge_unet(submission.call("unet", unet_seed=0, data_seed=8), unet_seed=0, data_seed=8, sdxl=False,
                      bound=UNET_BOUND)
