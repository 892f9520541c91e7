"""Public tests for textual-inversion: run them with `diffchallenge test`."""

import pytest

from pytest_diffchallenge.compare import assert_matches

# The tiny text encoder embeds a prompt the same, bitwise, whichever of 1 or 2 threads runs it (measured), and a
# fresh pipeline that loaded the right rows holds the very weights of the trained encoder: 1e-5 is only a margin
# for another CPU's kernels. A wrong or missing row moves the embeddings by 1e-2 or more.
EMBEDDINGS = dict(rtol=1e-5, atol=1e-5)
PLACEHOLDER = dict(placeholder_token="<cat-toy>", initializer_token="x")
TRAINING = dict(prompts=["a photo of <cat-toy>", "the <cat-toy> on a table"], target_seed=11, steps=3,
                learning_rate=5e-3, weight_decay=1e-2)


@pytest.mark.points(2)
@pytest.mark.covers("placeholder-tokens", "resize", "initializer")
def test_one_vector(equivalence):
    # bitwise: the rows are copies, nothing is computed
    equivalence.check("placeholders", rtol=0, atol=0, encoder_seed=0, **PLACEHOLDER, num_vectors=1,
                      prompt="a photo of <cat-toy>")


@pytest.mark.points(2)
@pytest.mark.covers("placeholder-tokens", "resize", "initializer")
def test_several_vectors(equivalence):
    equivalence.check("placeholders", rtol=0, atol=0, encoder_seed=1, **PLACEHOLDER, num_vectors=3,
                      prompt="a photo of <cat-toy>")


@pytest.mark.points(2)
@pytest.mark.covers("frozen", "other-rows")
def test_training_moves_only_the_placeholder_rows(submission):
    reply = submission.call("training", encoder_seed=2, **PLACEHOLDER, num_vectors=3, **TRAINING)
    assert reply["other_parameters_changed"] == [], f"parameters changed: {reply['other_parameters_changed']}"
    assert reply["other_parameters_trainable"] == [], f"not frozen: {reply['other_parameters_trainable']}"
    assert reply["other_rows_changed"] == [], f"non-placeholder rows changed: {reply['other_rows_changed']}"
    assert reply["placeholder_rows_not_moved"] == [], f"rows never trained: {reply['placeholder_rows_not_moved']}"
    assert len(reply["losses"]) == TRAINING["steps"], f"{len(reply['losses'])} losses for {TRAINING['steps']} steps"


@pytest.mark.points(2)
@pytest.mark.covers("saved-format", "round-trip")
def test_saved_file_loads_in_diffusers(submission, probes):
    inputs = dict(model_seed=0, **PLACEHOLDER, num_vectors=2)
    file = submission.call("saved", **inputs, fill_seed=3)["file"]
    probes.assert_saved_rows(probes.read_saved(file), inputs["placeholder_token"], probes.filled_rows(3, 2))
    prompt = "a <cat-toy> on the beach"
    assert_matches(probes.loaded_prompt_embeds(file, 0, prompt),
                   probes.reference_prompt_embeds(**inputs, fill_seed=3, prompt=prompt), **EMBEDDINGS,
                   name="prompt embeddings after load_textual_inversion")


@pytest.mark.points(2)
@pytest.mark.covers("round-trip", "forbidden")
def test_train_save_load(submission, probes):
    prompt = "a <cat-toy> on the beach"
    reply = submission.call("trained_and_saved", model_seed=0, **PLACEHOLDER, num_vectors=2, **TRAINING,
                            prompt=prompt)
    # the trusted side's load of the file is the reference: the worker's embeddings must agree with it
    assert_matches(reply["prompt_embeds"], probes.loaded_prompt_embeds(reply["file"], 0, prompt), **EMBEDDINGS,
                   name="the trained encoder's prompt embeddings, against a pipeline that loaded the file")
