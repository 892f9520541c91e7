"""Hidden tests for mixed-precision-inference: values come from the run's secret seed; the branches each test
reaches (dtype, upcast or not, overflow or not, which stage fails) never depend on it."""

import pytest
import torch

from pytest_diffchallenge.recipes import TEXT_DIM, seeded_randn

# Against float64 truth, in the same test: see test_public.py (4x the library's fp16/bf16 error + 1 ulp).
TRUTH = dict(truth_inputs={"dtype": "float64"})
# Stage errors and check_finite's verdicts are exact: no tolerance (no tensor is compared).
EXACT = dict(rtol=0, atol=0)
LATENTS = (2, 4, 8, 8)

NON_FINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "finite": None}


@pytest.mark.points(1)
@pytest.mark.covers("check-finite")
@pytest.mark.parametrize("value, dtype", [("nan", "bfloat16"), ("inf", "float16"), ("-inf", "float32"),
                                          ("finite", "float16")])
def test_check_finite(equivalence, hidden_seed, value, dtype):
    values = seeded_randn((3, 5, 7), hidden_seed, getattr(torch, dtype), scale=100.0)
    if NON_FINITE[value] is not None:
        values.view(-1)[hidden_seed % values.numel()] = NON_FINITE[value]
    stage = ("text_encoder", "unet", "vae")[hidden_seed % 3]
    equivalence.check("finite_check", **EXACT, stage=stage, values=values)


@pytest.mark.points(2)
@pytest.mark.covers("text-encoder")
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_text_encoder(equivalence, probes, hidden_seed, dtype):
    equivalence.check_against_truth("text_encoder_stage", **TRUTH, model_seed=hidden_seed % 997,
                                    input_ids=probes.input_ids(hidden_seed, batch=2), dtype=dtype)


@pytest.mark.points(2)
@pytest.mark.covers("unet")
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_unet(equivalence, probes, hidden_seed, dtype):
    equivalence.check_against_truth("unet_stage", **TRUTH, model_seed=hidden_seed % 991,
                                    latents=seeded_randn(LATENTS, hidden_seed), timestep=hidden_seed % 1000,
                                    prompt_embeds=seeded_randn((2, probes.TOKENS, TEXT_DIM), hidden_seed + 1),
                                    dtype=dtype)


@pytest.mark.points(2)
@pytest.mark.covers("vae-decode", "force-upcast", "forbidden")
@pytest.mark.parametrize("dtype, force_upcast", [("float16", False), ("float16", True), ("bfloat16", False),
                                                 ("bfloat16", True)])
def test_vae(equivalence, hidden_seed, dtype, force_upcast):
    # fp16 + force_upcast decodes in float32 (a float32 image); bf16 is never upcast (a bf16 image)
    equivalence.check_against_truth("vae_stage", **TRUTH, model_seed=hidden_seed % 983,
                                    latents=seeded_randn(LATENTS, hidden_seed), dtype=dtype, force_upcast=force_upcast)


@pytest.mark.points(2)
@pytest.mark.covers("force-upcast", "nan-detection")
@pytest.mark.parametrize("dtype, force_upcast", [("float16", True), ("float16", False), ("bfloat16", True)])
def test_overflowing_vae(equivalence, hidden_seed, dtype, force_upcast):
    # activations of 5e5 to 8e5: fp16 without upcast overflows (NonFiniteError for "vae"); float32 and bf16 do not
    inputs = dict(model_seed=hidden_seed % 977, latents=seeded_randn(LATENTS, hidden_seed), dtype=dtype,
                  force_upcast=force_upcast, overflowing=True)
    if dtype == "float16" and not force_upcast:
        equivalence.check("vae_stage", **EXACT, **inputs)
    else:
        equivalence.check_against_truth("vae_stage", **TRUTH, **inputs)


@pytest.mark.points(2)
@pytest.mark.covers("nan-detection")
def test_text_encoder_nan_is_reported(equivalence, probes, hidden_seed):
    equivalence.check("text_encoder_stage", **EXACT, model_seed=hidden_seed % 971,
                      input_ids=probes.input_ids(hidden_seed), dtype="bfloat16", poisoned=True)


@pytest.mark.points(2)
@pytest.mark.covers("nan-detection")
def test_unet_nan_is_reported(equivalence, probes, hidden_seed):
    latents = seeded_randn(LATENTS, hidden_seed)
    latents.view(-1)[hidden_seed % latents.numel()] = float("nan")
    equivalence.check("unet_stage", **EXACT, model_seed=hidden_seed % 967, latents=latents,
                      timestep=hidden_seed % 1000,
                      prompt_embeds=seeded_randn((2, probes.TOKENS, TEXT_DIM), hidden_seed + 1), dtype="float16")
