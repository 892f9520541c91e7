"""Hidden tests for custom-pipeline: inputs come from the run's secret seed."""

import pytest

IMAGES = dict(rtol=1e-5, atol=1e-4)
PROMPTS = ["a photo of a cat", "the house by the lake", "an astronaut riding a horse", "two dogs"]


def _prompt(seed):
    return PROMPTS[seed % len(PROMPTS)]


@pytest.mark.points(2)
def test_batch_with_negative_prompts(equivalence, hidden_seed):
    equivalence.check("generate", **IMAGES, model_seed=hidden_seed % 997, scheduler="euler",
                      prompt=[_prompt(hidden_seed), _prompt(hidden_seed + 1)], seed=hidden_seed,
                      num_inference_steps=2, guidance_scale=4.0, negative_prompt=["blurry", "dark"])


@pytest.mark.points(1)
def test_without_guidance(equivalence, hidden_seed):
    equivalence.check("generate", **IMAGES, model_seed=hidden_seed % 991, scheduler="euler",
                      prompt=_prompt(hidden_seed), seed=hidden_seed, num_inference_steps=2, guidance_scale=1.0)


@pytest.mark.points(2)
def test_callback_at_a_secret_step(equivalence, hidden_seed):
    equivalence.check("callback", **IMAGES, model_seed=hidden_seed % 983, scheduler="euler",
                      prompt=_prompt(hidden_seed), seed=hidden_seed, num_inference_steps=3,
                      edit_step=hidden_seed % 2, factor=0.3 + (hidden_seed % 100) / 100)


@pytest.mark.points(1)
def test_progress_bar(equivalence, hidden_seed):
    equivalence.check("progress_bar", rtol=0, atol=0, model_seed=hidden_seed % 977, prompt=_prompt(hidden_seed),
                      num_inference_steps=2 + hidden_seed % 2)


@pytest.mark.points(2)
def test_float64(equivalence, hidden_seed):
    equivalence.check("in_float64", **IMAGES, model_seed=hidden_seed % 971, prompt=_prompt(hidden_seed),
                      seed=hidden_seed, num_inference_steps=2)


@pytest.mark.points(2)
def test_round_trip_with_euler(equivalence, hidden_seed):
    equivalence.check("round_trip", **IMAGES, model_seed=hidden_seed % 967, scheduler="euler",
                      prompt=_prompt(hidden_seed), seed=hidden_seed, num_inference_steps=2)
