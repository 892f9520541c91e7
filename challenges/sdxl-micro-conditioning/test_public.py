"""Public tests for sdxl-micro-conditioning: run them with `diffchallenge test`."""

import pytest

# measured 0 for the reference, <= 1.1e-6 on |x| <= 2.7 for text encoders run in float64 (1/13 of this
# tolerance); one pass of the text encoders, nothing accumulates. Time ids are whole numbers: any wrong one
# is off by at least 1.
CONDITIONING = dict(rtol=1e-5, atol=1e-5)


@pytest.mark.points(2)
@pytest.mark.covers("time-ids-values", "time-ids-dtype")
def test_add_time_ids(equivalence):
    """dtype left out: float32."""
    equivalence.check("add_time_ids", rtol=0, atol=0, original_size=[1024, 768], crops_coords_top_left=[16, 0],
                      target_size=[512, 512])


@pytest.mark.points(1)
@pytest.mark.covers("size-check")
def test_rejects_mismatched_embedding(equivalence):
    equivalence.check("rejects_mismatched_embedding", rtol=0, atol=0, projection_dim=16)


@pytest.mark.points(3)
@pytest.mark.covers("conditioning", "default-sizes", "guidance", "negative-prompt")
def test_single_prompt_defaults(equivalence):
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=0, prompt="a photo of a cat")
