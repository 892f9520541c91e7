"""Public tests for sdxl-micro-conditioning: run them with `diffchallenge test`."""

import pytest

# measured 0 for the reference; room for embeddings computed in another batch layout. Time ids are whole
# numbers: any wrong one is off by at least 1.
CONDITIONING = dict(rtol=1e-5, atol=1e-5)


@pytest.mark.points(2)
def test_add_time_ids(equivalence):
    equivalence.check("add_time_ids", rtol=0, atol=0, original_size=[1024, 768], crops_coords_top_left=[16, 0],
                      target_size=[512, 512])


@pytest.mark.points(1)
def test_rejects_mismatched_embedding(equivalence):
    equivalence.check("rejects_mismatched_embedding", rtol=0, atol=0)


@pytest.mark.points(3)
def test_single_prompt_defaults(equivalence):
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=0, prompt="a photo of a cat")
