"""Hidden tests for custom-pipeline: inputs come from the run's secret seed."""

import pytest

# Images are judged against a float64 run of the same pipeline (same noise, drawn in float32): within 4x the
# library's own error there (measured 4e-7 to 2e-6 on [0, 1] images, 1e-4 on latents), so float64 passes too.
TRUTH = dict(truth_inputs={"dtype": "float64"})
# One step, nothing accumulates: float64 arithmetic differs from the library by <= 4e-6 on [0, 1] images and
# 2e-6 on latents (|x| <= 4), 1/25 of this tolerance.
ONE_STEP = dict(rtol=1e-5, atol=1e-4)
# float64 on both sides: the same pipeline in float64 differs by ~1e-16; a float32 step would show at 1e-7.
FLOAT64 = dict(rtol=1e-9, atol=1e-9)
PROMPTS = ["a photo of a cat", "the house by the lake", "an astronaut riding a horse", "two dogs"]


def _prompt(seed, offset=0):
    return PROMPTS[(seed + offset) % len(PROMPTS)]


@pytest.mark.points(2)
@pytest.mark.covers("prompt-embeddings", "negative-prompt", "guidance", "denoising-loop", "forbidden")
def test_batch_with_negative_prompts(equivalence, hidden_seed):
    """Three prompts (halves of the batch, not thirds); guidance between 1 and 2 is on."""
    equivalence.check_against_truth("generate", **TRUTH, model_seed=hidden_seed % 997, scheduler="euler",
                                    prompt=[_prompt(hidden_seed, offset) for offset in range(3)], seed=hidden_seed,
                                    num_inference_steps=2, guidance_scale=1.2 + (hidden_seed % 7) / 10,
                                    negative_prompt=["blurry", "dark", "noisy"])


@pytest.mark.points(1)
@pytest.mark.covers("prompt-embeddings")
def test_a_prompt_longer_than_the_tokenizer_takes(equivalence, hidden_seed):
    """Over model_max_length (77) tokens: cut to it, as the library's pipelines do."""
    equivalence.check("generate", **ONE_STEP, model_seed=hidden_seed % 929, scheduler="euler",
                      prompt=", ".join(_prompt(hidden_seed, offset) for offset in range(24)), seed=hidden_seed,
                      num_inference_steps=1)


@pytest.mark.points(2)
@pytest.mark.covers("guidance")
def test_without_guidance(equivalence, hidden_seed):
    """guidance_scale 1, then 0.5: the prompt's embeddings alone."""
    equivalence.check("without_guidance", **ONE_STEP, model_seed=hidden_seed % 991, scheduler="euler",
                      prompt=_prompt(hidden_seed), seed=hidden_seed, num_inference_steps=1)


@pytest.mark.points(2)
@pytest.mark.covers("given-latents", "negative-prompt", "initial-noise")
def test_given_latents_and_a_string_negative_prompt(equivalence, hidden_seed):
    """Latents passed in (still scaled by Euler's init_noise_sigma); one negative prompt as a string."""
    equivalence.check("given_latents", **ONE_STEP, model_seed=hidden_seed % 983, scheduler="euler",
                      prompt=_prompt(hidden_seed), seed=hidden_seed, latents_seed=hidden_seed + 1,
                      num_inference_steps=1, negative_prompt=_prompt(hidden_seed, 2))


@pytest.mark.points(2)
@pytest.mark.covers("callback")
def test_callback_at_a_secret_step(equivalence, hidden_seed):
    """The callback edits the latents at one step and returns an empty dict at the others: those keep theirs."""
    equivalence.check_against_truth("callback", **TRUTH, model_seed=hidden_seed % 983, scheduler="euler",
                                    prompt=_prompt(hidden_seed), seed=hidden_seed, num_inference_steps=2,
                                    edit_step=hidden_seed % 2, factor=0.3 + (hidden_seed % 100) / 100, others="empty")


@pytest.mark.points(2)
@pytest.mark.covers("progress-bar")
def test_progress_bar(equivalence, hidden_seed):
    """Enabled: a bar that reaches its total; then disabled: nothing written."""
    equivalence.check("progress_bar", rtol=0, atol=0, model_seed=hidden_seed % 977, prompt=_prompt(hidden_seed),
                      num_inference_steps=1 + hidden_seed % 2)


@pytest.mark.points(2)
@pytest.mark.covers("to-float64")
def test_float64(equivalence, hidden_seed):
    equivalence.check("in_float64", **FLOAT64, model_seed=hidden_seed % 971, prompt=_prompt(hidden_seed),
                      seed=hidden_seed, num_inference_steps=1)


@pytest.mark.points(2)
@pytest.mark.covers("from-pretrained", "registered-components", "safetensors-only")
def test_round_trip_with_euler(equivalence, hidden_seed):
    equivalence.check_against_truth("round_trip", **TRUTH, model_seed=hidden_seed % 967, scheduler="euler",
                                    prompt=_prompt(hidden_seed), seed=hidden_seed, num_inference_steps=2)


@pytest.mark.points(3)
@pytest.mark.covers("output-type", "return-dict", "sizes")
def test_latent_and_tuple_outputs(equivalence, hidden_seed):
    """output_type="latent"; then return_dict=False, (images,), at 24 x 16 pixels."""
    equivalence.check("outputs", **ONE_STEP, model_seed=hidden_seed % 953, scheduler="euler",
                      prompt=_prompt(hidden_seed), seed=hidden_seed, num_inference_steps=1, output_type="latent")


@pytest.mark.points(2)
@pytest.mark.covers("defaults", "output-type", "return-dict", "sizes")
def test_defaults(equivalence, hidden_seed):
    """Nothing named: 50 steps (the first one compared; the run stops there), guidance 7.5, 16 px; then only
    the steps named: output_type "pt", an output with .images."""
    equivalence.check("defaults", **ONE_STEP, model_seed=hidden_seed % 937, prompt=_prompt(hidden_seed),
                      seed=hidden_seed, num_inference_steps=1)
