"""Hidden tests for int8-weight-quantization: weights and inputs come from the run's secret seed."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

# Measured: fp32 forwards (dequantize then matmul, or scale the int8 matmul's output) within 2e-7 of |x| @ |W|^T + |b|
# of the float64 result; a forward on the original fp32 weight is off by 2.5e-3.
FORWARD_RTOL = 2e-6
# Measured over 5 seeds: the reference within 1.6e-3 (SD) and 6.4e-3 (SDXL) of the fp32 UNet's largest output.
UNET_BOUND = {False: 5e-3, True: 2e-2}  # keyed by sdxl


@pytest.mark.points(1)
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.covers("codes", "scales", "bias", "forward")
def test_secret_layer(submission, probes, hidden_seed, with_bias):
    weight = seeded_randn((72, 80), hidden_seed, scale=0.08)
    bias = seeded_randn((72,), hidden_seed + 1) if with_bias else None
    inputs = [seeded_randn((3, 80), hidden_seed + 2), seeded_randn((2, 5, 80), hidden_seed + 3, scale=2.0)]
    reply = submission.call("linear", weight=weight, bias=bias, inputs=inputs)
    probes.judge_codes_and_scales(reply, weight)
    probes.judge_bias(reply, bias)
    probes.judge_outputs(reply, inputs, FORWARD_RTOL)


@pytest.mark.points(1)
@pytest.mark.covers("codes")
def test_ties_round_to_even(submission, probes, hidden_seed):
    """Each row's scale is a power of two and its largest weight 127 of them, so w / scale is exact: every other
    weight is a tie k + 0.5, which torch.round sends to the even neighbour."""
    generator = torch.Generator().manual_seed(hidden_seed)
    halves = torch.randint(-127, 127, (16, 48), generator=generator).double() + 0.5
    halves[:, 0] = torch.where(torch.rand(16, generator=generator) < 0.5, -127.0, 127.0)
    scales = 2.0 ** -torch.randint(3, 9, (16, 1), generator=generator).double()
    weight = (halves * scales).float()
    probes.judge_codes_and_scales(submission.call("linear", weight=weight, bias=None, inputs=[]), weight)


@pytest.mark.points(1)
@pytest.mark.covers("scales", "forward")
def test_zero_rows(submission, probes, hidden_seed):
    """Rows of zeros (pruned channels): codes 0, a finite scale, and the output is the bias there."""
    weight, bias = seeded_randn((24, 64), hidden_seed, scale=0.1), seeded_randn((24,), hidden_seed + 1)
    zero_rows = torch.randperm(24, generator=torch.Generator().manual_seed(hidden_seed))[:3]
    weight[zero_rows] = 0.0
    inputs = [seeded_randn((4, 64), hidden_seed + 2)]
    reply = submission.call("linear", weight=weight, bias=bias, inputs=inputs)
    probes.judge_codes_and_scales(reply, weight)
    probes.judge_outputs(reply, inputs, FORWARD_RTOL)


@pytest.mark.points(1)
@pytest.mark.covers("memory", "forbidden")
def test_memory_of_a_narrow_layer(submission, probes, hidden_seed):
    """in_features = 32, the narrowest in the UNets: codes 25% and fp32 scales 3.1% of the fp32 weight."""
    weight, bias = seeded_randn((96, 32), hidden_seed, scale=0.2), seeded_randn((96,), hidden_seed + 1)
    reply = submission.call("linear", weight=weight, bias=bias, inputs=[])
    probes.judge_codes_and_scales(reply, weight)
    probes.judge_memory(reply, weight, bias)


@pytest.mark.points(2)
@pytest.mark.parametrize("sdxl", [False, True])
@pytest.mark.covers("model", "memory")
def test_tiny_unets(submission, probes, hidden_seed, sdxl):
    """74 nn.Linear layers in the SD UNet, 148 in the SDXL one (its time and text embeddings among them)."""
    unet_seed = hidden_seed % 1000
    probes.judge_unet(submission.call("unet", unet_seed=unet_seed, data_seed=hidden_seed, sdxl=sdxl),
                      unet_seed=unet_seed, data_seed=hidden_seed, sdxl=sdxl, bound=UNET_BOUND[sdxl])
