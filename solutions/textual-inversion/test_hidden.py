"""Hidden tests for textual-inversion: placeholders, initializers, models, data and hyperparameters come from the
run's secret seed. Training is judged against a replay written here, on the grader's side."""

from types import SimpleNamespace

import pytest
import torch

from pytest_diffchallenge.compare import assert_matches, assert_near_truth

EMBEDDINGS = dict(rtol=1e-5, atol=1e-5)  # the same weights give the same embeddings, bitwise (see test_public.py)
# Training (accumulated), against the float64 replay. Measured over 24 draws of these tests' inputs: the fp32 replay
# errs by at most 6.3e-7 on the rows and 1.4e-7 on the losses (about 1e-7 relative), and the reference, which trains
# the whole matrix and puts the other rows back, agrees with it bitwise; no gradient of a placeholder row came within
# 5e-5 of zero (eps is 1e-8), so AdamW's sign-like first step does not amplify rounding. The rows: within 4x the
# fp32 replay's own error, plus one ulp. The losses: 1e-6 relative (8 ulp), room for an MSE summed in another order.
TRUTH_MULTIPLE = 4
LOSSES = dict(rtol=1e-6, atol=0)
SEVERAL = [1, 2]  # ids of the parametrisations: one vector, several
PROMPTS = ["a photo of {}", "the {} on a table", "a painting of {} in the snow", "{} riding a bike",
           "a close-up of {}, studio light"]


def _replayed_training(text_encoder, placeholder_token_ids, input_ids, target, steps, learning_rate, weight_decay):
    """The statement's training, built another way: AdamW trains a leaf holding the placeholders' rows only, and
    the encoder runs with those rows scattered into its frozen embedding, so no other row can move."""
    text_encoder.requires_grad_(False)
    embedding = text_encoder.get_input_embeddings()
    name = next(name for name, parameter in text_encoder.named_parameters() if parameter is embedding.weight)
    frozen = embedding.weight.detach().clone()
    index = torch.tensor(placeholder_token_ids)
    rows = torch.nn.Parameter(frozen[index].clone())
    optimizer = torch.optim.AdamW([rows], lr=learning_rate, weight_decay=weight_decay)
    losses = []
    for _ in range(steps):
        weight = frozen.index_put((index,), rows)
        hidden = torch.func.functional_call(text_encoder, {name: weight}, (input_ids,)).last_hidden_state
        loss = torch.nn.functional.mse_loss(hidden, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        embedding.weight[index] = rows
    return losses


REPLAY = SimpleNamespace(train_placeholder_embeddings=_replayed_training)


def placeholder(seed, num_vectors) -> dict:
    return dict(placeholder_token=f"<concept-{seed % 97}>", num_vectors=num_vectors,
                initializer_token="abcdefghijklmnopqrstuvwxyz"[seed % 26])


def vectors(seed, several) -> int:
    return 2 + seed % 3 if several == 2 else 1


def training_inputs(seed, several) -> dict:
    """Two or three prompts, 2 to 4 steps, a learning rate of 2e-3 to 8e-3 and a weight decay of 1e-2 to 5e-2
    (never 0: the decay is what moves every row of a matrix trained whole)."""
    token = placeholder(seed, vectors(seed, several))
    prompts = [PROMPTS[(seed + i) % len(PROMPTS)].format(token["placeholder_token"]) for i in range(2 + seed % 2)]
    return dict(**token, prompts=prompts, target_seed=seed + 1, steps=2 + seed % 3,
                learning_rate=2e-3 * (1 + seed % 4), weight_decay=1e-2 * (1 + seed % 5))


@pytest.mark.points(2)
@pytest.mark.parametrize("several", SEVERAL, ids=["one-vector", "several-vectors"])
@pytest.mark.covers("placeholder-tokens", "resize", "initializer", "forbidden")
def test_placeholders(equivalence, hidden_seed, several):
    token = placeholder(hidden_seed, vectors(hidden_seed, several))
    equivalence.check("placeholders", rtol=0, atol=0, encoder_seed=hidden_seed % 1000, **token,
                      prompt=f"a photo of {token['placeholder_token']}, {token['initializer_token']}")


@pytest.mark.points(1)
@pytest.mark.covers("initializer")
def test_initializer_of_several_tokens_raises(submission, hidden_seed):
    several_tokens = ["cat", "dog", "toy"][hidden_seed % 3]
    reply = submission.call("initializer_error", encoder_seed=hidden_seed % 1000,
                            **{**placeholder(hidden_seed, 1), "initializer_token": several_tokens})
    assert reply["raised"] == "ValueError", "an initializer of several tokens must raise ValueError"


@pytest.mark.points(3)
@pytest.mark.parametrize("several", SEVERAL, ids=["one-vector", "several-vectors"])
@pytest.mark.covers("training", "other-rows", "frozen")
def test_training_against_a_replay(submission, probes, hidden_seed, several):
    inputs = dict(encoder_seed=hidden_seed % 1000, **training_inputs(hidden_seed, several))
    library = probes.training(REPLAY, **inputs)
    truth = probes.training(REPLAY, **inputs, dtype=torch.float64)
    got = submission.call("training", **inputs)
    for key in ("other_parameters_changed", "other_parameters_trainable", "other_rows_changed",
                "placeholder_rows_not_moved"):
        assert got[key] == [], f"{key}: {got[key]}"
    assert_matches(got["losses"], truth["losses"], **LOSSES, name="training: losses (against float64)",
                   check_dtype=False)
    assert_near_truth(got["placeholder_rows"], library["placeholder_rows"], truth["placeholder_rows"],
                      multiple=TRUTH_MULTIPLE, name="training: placeholder rows")


@pytest.mark.points(2)
@pytest.mark.parametrize("several", SEVERAL, ids=["one-vector", "several-vectors"])
@pytest.mark.covers("saved-format", "round-trip")
def test_saved_file(submission, probes, hidden_seed, several):
    inputs = dict(model_seed=hidden_seed % 1000, **placeholder(hidden_seed, vectors(hidden_seed, several)))
    file = submission.call("saved", **inputs, fill_seed=hidden_seed)["file"]
    rows = probes.filled_rows(hidden_seed, inputs["num_vectors"])
    probes.assert_saved_rows(probes.read_saved(file), inputs["placeholder_token"], rows)
    prompt = PROMPTS[hidden_seed % len(PROMPTS)].format(inputs["placeholder_token"])
    assert_matches(probes.loaded_prompt_embeds(file, inputs["model_seed"], prompt),
                   probes.reference_prompt_embeds(**inputs, fill_seed=hidden_seed, prompt=prompt), **EMBEDDINGS,
                   name="prompt embeddings after load_textual_inversion")


@pytest.mark.points(2)
@pytest.mark.parametrize("several", SEVERAL, ids=["one-vector", "several-vectors"])
@pytest.mark.covers("round-trip", "forbidden")
def test_train_save_load(submission, probes, hidden_seed, several):
    inputs = dict(model_seed=hidden_seed % 1000, **training_inputs(hidden_seed, several))
    prompt = PROMPTS[(hidden_seed + 3) % len(PROMPTS)].format(inputs["placeholder_token"])
    reply = submission.call("trained_and_saved", **inputs, prompt=prompt)
    assert_matches(reply["prompt_embeds"], probes.loaded_prompt_embeds(reply["file"], inputs["model_seed"], prompt),
                   **EMBEDDINGS, name="the trained encoder's prompt embeddings, against the pipeline's")
