"""Public tests for mixed-precision-inference: run them with `diffchallenge test`."""

import pytest
import torch

from pytest_diffchallenge.recipes import TEXT_DIM, seeded_randn

# fp16/bf16 results are judged against a float64 run of the same models, in the same test: within 4x the error of
# the library's own fp16/bf16 run there, plus 1 ulp (measured: VAE image 1.5e-3 to 1.9e-3 in fp16, 0.7e-2 to
# 1.7e-2 in bf16, 6e-4 to 9e-4 upcast to float32, on values up to about 1.4).
TRUTH = dict(truth_inputs={"dtype": "float64"})
# Stage errors and check_finite's verdicts are exact: no tolerance (no tensor is compared).
EXACT = dict(rtol=0, atol=0)


@pytest.mark.points(2)
@pytest.mark.covers("check-finite")
def test_check_finite_flags_nan(equivalence):
    values = seeded_randn((2, 3, 4), 1, torch.float16)
    values[1, 2, 3] = float("nan")
    equivalence.check("finite_check", **EXACT, stage="unet", values=values)


@pytest.mark.points(2)
@pytest.mark.covers("text-encoder")
def test_text_encoder_fp16(equivalence, probes):
    equivalence.check_against_truth("text_encoder_stage", **TRUTH, model_seed=0, input_ids=probes.input_ids(0),
                                    dtype="float16")


@pytest.mark.points(2)
@pytest.mark.covers("unet")
def test_unet_bf16(equivalence, probes):
    equivalence.check_against_truth("unet_stage", **TRUTH, model_seed=0, latents=seeded_randn((1, 4, 8, 8), 2),
                                    timestep=500, prompt_embeds=seeded_randn((1, probes.TOKENS, TEXT_DIM), 3),
                                    dtype="bfloat16")


@pytest.mark.points(2)
@pytest.mark.covers("force-upcast", "vae-decode")
def test_fp16_vae_upcast_survives_overflow(equivalence):
    equivalence.check_against_truth("vae_stage", **TRUTH, model_seed=0, latents=seeded_randn((1, 4, 8, 8), 4),
                                    dtype="float16", force_upcast=True, overflowing=True)


@pytest.mark.points(2)
@pytest.mark.covers("nan-detection")
def test_fp16_vae_overflow_is_reported(equivalence):
    equivalence.check("vae_stage", **EXACT, model_seed=0, latents=seeded_randn((1, 4, 8, 8), 4), dtype="float16",
                      force_upcast=False, overflowing=True)
