"""Hidden tests for cfg-sampling-loop: inputs come from the run's secret seed."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

LOOP = dict(rtol=1e-5, atol=1e-4)
RESCALE = dict(rtol=1e-5, atol=1e-5)
PROMPTS = ["an astronaut riding a horse", "a bowl of ramen, studio light", "the old lighthouse at dusk",
           "pixel art of a fox", "three red apples on a table"]


def prompt(seed, offset=0):
    return PROMPTS[(seed + offset) % len(PROMPTS)]


@pytest.mark.points(1)
def test_rescale_any_rank(equivalence, hidden_seed):
    """Per-sample std over every non-batch dimension: here packed (B, tokens, channels) predictions."""
    equivalence.check("rescale", **RESCALE, noise_cfg=seeded_randn((3, 16, 8), hidden_seed, scale=4.0),
                      noise_pred_text=seeded_randn((3, 16, 8), hidden_seed + 1),
                      guidance_rescale=0.1 + (hidden_seed % 9) / 10)


@pytest.mark.points(3)
def test_euler_with_guidance_rescale(equivalence, hidden_seed):
    equivalence.check("generate", **LOOP, scheduler="euler", model_seed=hidden_seed % 1000, prompt=prompt(hidden_seed),
                      seed=hidden_seed, guidance_scale=6.0 + hidden_seed % 5, guidance_rescale=0.7)


@pytest.mark.points(1)
@pytest.mark.parametrize("spacing", ["leading", "trailing"])
def test_euler_timestep_spacings(equivalence, hidden_seed, spacing):
    equivalence.check("generate", **LOOP, scheduler="euler", model_seed=hidden_seed % 1000, prompt=prompt(hidden_seed),
                      seed=hidden_seed, spacing=spacing, num_inference_steps=3)


@pytest.mark.points(3)
def test_prompt_batch_negative_prompts_and_images_per_prompt(equivalence, hidden_seed):
    equivalence.check("generate", **LOOP, scheduler="ddim", model_seed=hidden_seed % 1000,
                      prompt=[prompt(hidden_seed), prompt(hidden_seed, 1)], negative_prompt=["blurry", "low quality"],
                      seed=hidden_seed, num_images_per_prompt=2, num_inference_steps=3)


@pytest.mark.points(2)
def test_ddim_eta_uses_the_generator(equivalence, hidden_seed):
    equivalence.check("generate", **LOOP, scheduler="ddim", model_seed=hidden_seed % 1000, prompt=prompt(hidden_seed),
                      seed=hidden_seed, eta=0.5 + (hidden_seed % 5) / 10)


@pytest.mark.points(2)
def test_ancestral_scheduler(equivalence, hidden_seed):
    equivalence.check("generate", **LOOP, scheduler="euler-ancestral", model_seed=hidden_seed % 1000,
                      prompt=prompt(hidden_seed), seed=hidden_seed, spacing="trailing", num_images_per_prompt=2)


@pytest.mark.points(1)
def test_without_guidance(equivalence, hidden_seed):
    equivalence.check("generate", **LOOP, scheduler="euler", model_seed=hidden_seed % 1000, prompt=prompt(hidden_seed),
                      seed=hidden_seed, guidance_scale=1.0)
