"""Hidden tests for fit-sdxl-8gb: prompts and seeds from the grading secret."""

import pytest

from pytest_diffchallenge import figures
from pytest_diffchallenge.worker.memory import measure_peak

WORDS = ("a", "red", "fox", "in", "snow", "castle", "at", "dawn", "oil", "painting", "of", "city", "night")


def hidden_prompt(seed: int) -> str:
    return " ".join(WORDS[(seed >> (4 * i)) % len(WORDS)] for i in range(6))


@pytest.mark.points(6)
@pytest.mark.memory_limit()
@pytest.mark.covers("fits")
def test_fits_on_the_card_hidden(submission, equivalence, hidden_seed):
    inputs = dict(prompt=hidden_prompt(hidden_seed), data_seed=hidden_seed % 1000, guidance_scale=7.5)
    with measure_peak(equivalence.device) as plain:  # the plain pipeline, here: the figure the ceiling scales
        equivalence.oracle("generate", **inputs)
    figures.record("plain_pipeline_peak_bytes", plain.peak_bytes)
    submission.call("generate", **inputs)


@pytest.mark.points(6)
@pytest.mark.covers("same-image", "sizes")
def test_same_image_non_square(equivalence, submission, probes, hidden_seed):
    size = probes.scale(equivalence.device)["size"]
    for height, width in ((size, size + size // 2), (size + size // 2, size)):
        inputs = dict(prompt=hidden_prompt(hidden_seed + height), data_seed=hidden_seed % 1000 + height,
                      guidance_scale=4.0 + hidden_seed % 5, height=height, width=width)
        probes.judge_image(submission.call("generate", **inputs), equivalence.oracle("generate", **inputs))


@pytest.mark.points(4)
@pytest.mark.covers("no-guidance")
def test_same_image_without_guidance(equivalence, submission, probes, hidden_seed):
    inputs = dict(prompt=hidden_prompt(hidden_seed), data_seed=hidden_seed % 1000 + 1, guidance_scale=1.0)
    probes.judge_image(submission.call("generate", **inputs), equivalence.oracle("generate", **inputs))


@pytest.mark.points(4)
@pytest.mark.runtime_budget()
@pytest.mark.covers("runtime")
def test_runtime_against_the_reference_strategy(runtime, hidden_seed):
    # Images from strategies that compute the same thing differ by rounding only; the PSNR tests judge them.
    runtime.check("generate", repeats=3, rtol=0.0, atol=0.05, prompt=hidden_prompt(hidden_seed),
                  data_seed=hidden_seed % 1000, guidance_scale=5.0)
