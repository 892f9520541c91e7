"""Hidden tests for lora-fuse: ranks, alphas, weights, scales and seeds come from the run's secret seed; which
modules each adapter targets does not (see probes.ADAPTER_TARGETS)."""

import pytest
import torch

from pytest_diffchallenge import figures

WEIGHTS = dict(truth_inputs={"dtype": torch.float64})  # 4x diffusers' error against float64: measured 1.5x at most
OUTPUT = dict(rtol=1e-5, atol=1e-5)  # fused against unfused: measured 9.5e-7 at most (see test_public.py)
ALPHA_OVER_RANK = (0.25, 0.5, 0.75, 1.5, 2.0, 3.0)  # never 1, so that rank / alpha or no alpha would differ
ADAPTER_WEIGHTS = (0.3, 0.6, 0.8, 1.2, 1.5)
LORA_SCALES = (0.4, 0.6, 0.75, 1.25, 1.5)  # never 1: diffusers' fuse_lora reaches its scaling branch every time


def random_lora(seed) -> dict:
    """Three adapters with ranks 2 to 8, alpha / rank != 1 and weights != 1, and a lora_scale != 1."""
    adapters = [{"rank": 2 + (seed >> 3 * index) % 7,
                 "alpha": (2 + (seed >> 3 * index) % 7) * ALPHA_OVER_RANK[(seed >> 2 * index + 9) % 6],
                 "weight": ADAPTER_WEIGHTS[(seed >> index + 15) % 5]} for index in range(3)]
    return dict(unet_seed=seed % 1000, lora_seed=seed, adapters=adapters, lora_scale=LORA_SCALES[(seed >> 20) % 5])


@pytest.mark.points(3)
@pytest.mark.covers("formula", "several-adapters", "lora-scale", "untouched")
def test_fuse_random_adapters(equivalence, hidden_seed):
    equivalence.check_against_truth("fused_weights", **WEIGHTS, **random_lora(hidden_seed))


@pytest.mark.points(3)
@pytest.mark.covers("fp16", "untouched")
def test_fuse_random_adapters_in_fp16(equivalence, probes, hidden_seed):
    lora = random_lora(hidden_seed)
    equivalence.check_against_truth("fused_weights", **WEIGHTS, **lora, precision="float16")
    for library, error in probes.library_errors(**lora, precision="float16").items():
        figures.record(f"fp16_max_error_{library}", error)


@pytest.mark.points(3)
@pytest.mark.covers("fused-output")
def test_fused_output_equals_unfused(equivalence, probes, hidden_seed):
    lora = random_lora(hidden_seed)
    _, unfused = equivalence.check("unet_output", oracle=probes.UNFUSED, **OUTPUT, **lora, data_seed=hidden_seed)
    diffusers = probes.unet_output(probes.ORACLE, **lora, data_seed=hidden_seed)["sample"]
    figures.record("output_max_error_diffusers_fuse_lora", float((diffusers - unfused["sample"]).abs().max()))


@pytest.mark.points(2)
@pytest.mark.covers("unfuse-restores", "untouched")
@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_unfuse_restores_random_adapters(equivalence, hidden_seed, precision):
    equivalence.check_against_truth("restored_weights", **WEIGHTS, **random_lora(hidden_seed), precision=precision)


@pytest.mark.points(2)
@pytest.mark.covers("refuse")
def test_fuse_again_after_unfuse(equivalence, hidden_seed):
    equivalence.check_against_truth("refused_weights", **WEIGHTS, **random_lora(hidden_seed),
                                    first_scale=LORA_SCALES[hidden_seed % 5] + 0.5)


@pytest.mark.points(1)
@pytest.mark.covers("idle-unfuse")
def test_unfuse_twice_changes_nothing(equivalence, hidden_seed):
    equivalence.check("idle_unfuse", rtol=0, atol=0, **random_lora(hidden_seed))
