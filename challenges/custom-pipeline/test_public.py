"""Public tests for custom-pipeline: run them with `diffchallenge test`."""

import pytest

IMAGES = dict(rtol=1e-5, atol=1e-4)


@pytest.mark.points(3)
def test_generate(equivalence):
    equivalence.check("generate", **IMAGES, model_seed=1, scheduler="ddim", prompt="a photo of a cat", seed=3,
                      num_inference_steps=2, guidance_scale=5.0)


@pytest.mark.points(3)
def test_callback_replaces_latents(equivalence):
    equivalence.check("callback", **IMAGES, model_seed=2, scheduler="ddim", prompt="a red house", seed=4,
                      num_inference_steps=3, edit_step=1, factor=0.5)


@pytest.mark.points(4)
def test_save_and_load_round_trip(equivalence):
    equivalence.check("round_trip", **IMAGES, model_seed=3, scheduler="ddim", prompt="a photo of a dog", seed=5,
                      num_inference_steps=2)
