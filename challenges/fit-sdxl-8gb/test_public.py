"""Public tests for fit-sdxl-8gb: run them with `diffchallenge test`."""

import pytest


@pytest.mark.points(4)
@pytest.mark.memory_limit()
@pytest.mark.covers("fits")
def test_fits_on_the_card(submission):
    """The whole call, loading included, within the card: 8 GiB on a GPU, its scale model's share on the CPU."""
    submission.call("generate", prompt="an astronaut riding a horse", data_seed=0, guidance_scale=5.0)


@pytest.mark.points(4)
@pytest.mark.covers("same-image")
def test_same_image_as_the_plain_pipeline(equivalence, submission, probes):
    inputs = dict(prompt="an astronaut riding a horse", data_seed=1, guidance_scale=5.0)
    probes.judge_image(submission.call("generate", **inputs), equivalence.oracle("generate", **inputs))
