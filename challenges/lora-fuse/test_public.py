"""Public tests for lora-fuse: run them with `diffchallenge test`."""

import pytest
import torch

# Weights: judged against the same fuse computed in float64, within 4x diffusers' own largest error there, plus one
# ulp: measured at most 1.5x (fp16) and 1.0x (fp32) for a correct fuse that rounds once, so summing in another
# order or more accurately never loses a point.
WEIGHTS = dict(truth_inputs={"dtype": torch.float64})
# One UNet forward, fused against unfused: measured at most 9.5e-7 (outputs up to 1.3), for diffusers' fuse_lora
# as for a hand-written one.
OUTPUT = dict(rtol=1e-5, atol=1e-5)
ONE_ADAPTER = [{"rank": 4, "alpha": 6.0, "weight": 1.0}]  # alpha / rank = 1.5: rank / alpha would differ
THREE_ADAPTERS = [{"rank": 4, "alpha": 6.0, "weight": 0.8}, {"rank": 2, "alpha": 1.0, "weight": 1.3},
                  {"rank": 8, "alpha": 4.0, "weight": 0.5}]
LORA = dict(unet_seed=0, lora_seed=1, adapters=THREE_ADAPTERS, lora_scale=0.7)



@pytest.mark.points(3)
@pytest.mark.covers("formula", "untouched")
def test_fuse_one_adapter_at_the_default_scale(equivalence):
    equivalence.check_against_truth("fused_weights", **WEIGHTS, unet_seed=0, lora_seed=2, adapters=ONE_ADAPTER)


@pytest.mark.points(3)
@pytest.mark.covers("unfuse-restores", "untouched")
def test_unfuse_restores_the_base_weights(equivalence):
    equivalence.check_against_truth("restored_weights", **WEIGHTS, **LORA)


@pytest.mark.points(1)
@pytest.mark.covers("idle-unfuse")
def test_unfuse_with_nothing_fused_changes_nothing(equivalence):
    equivalence.check("idle_unfuse", rtol=0, atol=0, **LORA)


@pytest.mark.points(3)
@pytest.mark.covers("several-adapters", "lora-scale", "untouched")
def test_fuse_three_adapters_with_a_scale(equivalence):
    equivalence.check_against_truth("fused_weights", **WEIGHTS, **LORA)


@pytest.mark.points(2)
@pytest.mark.covers("fp16")
def test_fuse_in_fp16(equivalence):
    equivalence.check_against_truth("fused_weights", **WEIGHTS, **LORA, precision="float16")


@pytest.mark.points(2)
@pytest.mark.covers("fused-output")
def test_fused_output_equals_unfused(equivalence, probes):
    equivalence.check("unet_output", oracle=probes.UNFUSED, **OUTPUT, **LORA, data_seed=3)
