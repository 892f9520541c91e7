"""Hidden tests for sdxl-micro-conditioning: inputs come from the run's secret seed."""

import pytest

# measured 0 for the reference, <= 1.1e-6 on |x| <= 2.7 for text encoders run in float64 (1/13 of this
# tolerance); one pass of the text encoders, nothing accumulates. Time ids are whole numbers: any wrong one
# is off by at least 1.
CONDITIONING = dict(rtol=1e-5, atol=1e-5)
PROMPTS = ["an astronaut riding a horse", "a bowl of ramen", "the old lighthouse at dusk", "pixel art of a fox"]


def size(seed, offset=0):
    """A (height, width) pair, never square: multiples of 64 up to 1024, exact in every dtype tested."""
    height = (seed + offset) % 16
    return [64 * (1 + height), 64 * (1 + (height + 1 + (seed // 16) % 15) % 16)]


def prompt(seed, offset=0):
    return PROMPTS[(seed + offset) % len(PROMPTS)]


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [None, "float32", "float64", "float16", "bfloat16"])
@pytest.mark.covers("time-ids-values", "time-ids-dtype", "forbidden")
def test_add_time_ids_any_size(equivalence, hidden_seed, dtype):
    """Exact: whole numbers below 2^11 with at most 5 significant bits (crops below 128), which float16 and
    bfloat16 hold exactly, so the library's cast is the truth."""
    equivalence.check("add_time_ids", rtol=0, atol=0, original_size=size(hidden_seed),
                      crops_coords_top_left=[hidden_seed % 97, hidden_seed % 13], target_size=size(hidden_seed, 5),
                      dtype=dtype)


@pytest.mark.points(1)
@pytest.mark.parametrize("projection_dim", [16, 48], ids=["too-few", "too-many"])
@pytest.mark.covers("size-check")
def test_rejects_mismatched_embedding(equivalence, projection_dim):
    equivalence.check("rejects_mismatched_embedding", rtol=0, atol=0, projection_dim=projection_dim)


@pytest.mark.points(1)
@pytest.mark.covers("size-check")
def test_accepts_a_matching_embedding_as_wide_as_sdxls(equivalence):
    """6 x 8 + 2768 = 2816 inputs, as in SDXL: equal sizes beyond Python's small cached ints pass."""
    equivalence.check("rejects_mismatched_embedding", rtol=0, atol=0, projection_dim=2768, embedding_inputs=2816)


@pytest.mark.points(3)
@pytest.mark.covers("conditioning", "custom-sizes", "forbidden")
def test_custom_sizes_and_crop(equivalence, hidden_seed):
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=hidden_seed % 1000, prompt=prompt(hidden_seed),
                      height=32, width=48, original_size=size(hidden_seed), target_size=size(hidden_seed, 3),
                      crops_coords_top_left=[hidden_seed % 31, 1 + hidden_seed % 7])


@pytest.mark.points(3)
@pytest.mark.covers("negative-sizes", "time-ids-batching", "prompts")
def test_negative_micro_conditioning_with_batches(equivalence, hidden_seed):
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=hidden_seed % 1000,
                      prompt=[prompt(hidden_seed), prompt(hidden_seed, 1)], num_images_per_prompt=3,
                      original_size=size(hidden_seed), negative_original_size=size(hidden_seed, 7),
                      negative_crops_coords_top_left=[hidden_seed % 5, 1 + hidden_seed % 11],
                      negative_target_size=size(hidden_seed, 9))


@pytest.mark.points(1)
@pytest.mark.parametrize("given", ["negative_original_size", "negative_target_size"],
                         ids=["only-original", "only-target"])
@pytest.mark.covers("negative-sizes", "custom-sizes", "default-sizes")
def test_negative_sizes_need_both(equivalence, hidden_seed, given):
    """One negative size only: the pipeline falls back to the positive time ids (original_size defaulted)."""
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=hidden_seed % 1000, prompt=prompt(hidden_seed),
                      target_size=size(hidden_seed, 4), **{given: size(hidden_seed, 2)})


@pytest.mark.points(1)
@pytest.mark.covers("negative-sizes")
def test_negative_crop_defaults_to_zero(equivalence, hidden_seed):
    """Both negative sizes given, no negative crop: (0, 0), not the positive crop."""
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=hidden_seed % 1000, prompt=prompt(hidden_seed),
                      crops_coords_top_left=[1 + hidden_seed % 31, 1 + hidden_seed % 7],
                      negative_original_size=size(hidden_seed, 6), negative_target_size=size(hidden_seed, 8))


@pytest.mark.points(2)
@pytest.mark.covers("negative-prompt", "guidance", "default-sizes", "prompts")
def test_negative_prompts(equivalence, hidden_seed):
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=hidden_seed % 1000,
                      prompt=[prompt(hidden_seed), prompt(hidden_seed, 2)], negative_prompt=["blurry", "low quality"],
                      guidance_scale=1.1 + hidden_seed % 5 / 10, height=48, width=32)  # on above 1; not square


@pytest.mark.points(1)
@pytest.mark.covers("negative-prompt", "time-ids-batching")
def test_string_negative_prompt_for_a_batch(equivalence, hidden_seed):
    """One string for every prompt of a list."""
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=hidden_seed % 1000,
                      prompt=[prompt(hidden_seed), prompt(hidden_seed, 1)], negative_prompt=prompt(hidden_seed, 3))


@pytest.mark.points(1)
@pytest.mark.parametrize("guidance_scale", [1.0, 0.5], ids=["one", "below-one"])
@pytest.mark.covers("guidance", "time-ids-batching", "prompts")
def test_without_guidance(equivalence, hidden_seed, guidance_scale):
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=hidden_seed % 1000,
                      prompt=[prompt(hidden_seed), prompt(hidden_seed, 3)], guidance_scale=guidance_scale,
                      num_images_per_prompt=2, original_size=size(hidden_seed))
