"""Hidden tests for sdxl-micro-conditioning: inputs come from the run's secret seed."""

import pytest

CONDITIONING = dict(rtol=1e-5, atol=1e-5)
PROMPTS = ["an astronaut riding a horse", "a bowl of ramen", "the old lighthouse at dusk", "pixel art of a fox"]


def size(seed, offset=0):
    """A (height, width) pair, usually not square."""
    return [64 * (1 + (seed + offset) % 16), 64 * (1 + (seed // 16 + offset) % 16)]


def prompt(seed, offset=0):
    return PROMPTS[(seed + offset) % len(PROMPTS)]


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_add_time_ids_any_size(equivalence, hidden_seed, dtype):
    equivalence.check("add_time_ids", rtol=0, atol=0, original_size=size(hidden_seed),
                      crops_coords_top_left=[hidden_seed % 97, hidden_seed % 13], target_size=size(hidden_seed, 5),
                      dtype=dtype)


@pytest.mark.points(3)
def test_custom_sizes_and_crop(equivalence, hidden_seed):
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=hidden_seed % 1000, prompt=prompt(hidden_seed),
                      height=32, width=48, original_size=size(hidden_seed), target_size=size(hidden_seed, 3),
                      crops_coords_top_left=[hidden_seed % 31, hidden_seed % 7])


@pytest.mark.points(3)
def test_negative_micro_conditioning_with_batches(equivalence, hidden_seed):
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=hidden_seed % 1000,
                      prompt=[prompt(hidden_seed), prompt(hidden_seed, 1)], num_images_per_prompt=2,
                      original_size=size(hidden_seed), negative_original_size=size(hidden_seed, 7),
                      negative_crops_coords_top_left=[hidden_seed % 5, hidden_seed % 11],
                      negative_target_size=size(hidden_seed, 9))


@pytest.mark.points(2)
def test_negative_sizes_need_both(equivalence, hidden_seed):
    """Only negative_original_size given: the pipeline falls back to the positive time ids."""
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=hidden_seed % 1000, prompt=prompt(hidden_seed),
                      negative_original_size=size(hidden_seed, 2), target_size=size(hidden_seed, 4))


@pytest.mark.points(2)
def test_negative_prompts(equivalence, hidden_seed):
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=hidden_seed % 1000,
                      prompt=[prompt(hidden_seed), prompt(hidden_seed, 2)], negative_prompt=["blurry", "low quality"],
                      guidance_scale=3.0 + hidden_seed % 5, height=48, width=32)  # default sizes, not square


@pytest.mark.points(2)
def test_without_guidance(equivalence, hidden_seed):
    equivalence.check("unet_conditioning", **CONDITIONING, model_seed=hidden_seed % 1000,
                      prompt=[prompt(hidden_seed), prompt(hidden_seed, 3)], guidance_scale=1.0,
                      num_images_per_prompt=2, original_size=size(hidden_seed))
