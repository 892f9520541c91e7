"""Trusted helpers for textual-inversion. The probes run in the worker with ``solution`` = the candidate's module
(or ORACLE, in the grader): they build a tiny seeded CLIP tokenizer and text encoder, hand them over, and return
ids, token strings and tensors (the tokenizer cannot cross the process boundary). The saved file comes back as its
bytes; the grader reads it with safetensors and loads it with diffusers' ``load_textual_inversion`` itself.

ORACLE adds the placeholders with diffusers' own loader, given the initializer's row as the learned embedding."""

import os
import tempfile
from types import SimpleNamespace

import torch
from diffusers.loaders import TextualInversionLoaderMixin
from safetensors.torch import load as load_safetensors

from pytest_diffchallenge import pickles, recipes
from pytest_diffchallenge.compare import assert_matches
from pytest_diffchallenge.faults import MismatchError

FILE_NAME = "learned_embeds.safetensors"  # the name load_textual_inversion looks for in a folder
TARGET_SCALE = 0.5  # the training target: seeded noise of about the size of the encoder's normalised output
# Seeded placeholder rows for the save checks (as after training): of the size of the tiny encoder's embeddings
# (its rows are drawn with standard deviation 0.02).
FILLED_ROW_SCALE = 0.02


class _TextualInversionLoader(TextualInversionLoaderMixin):
    """The mixin alone, as a pipeline without accelerate hooks holds it: what load_textual_inversion reads of self."""

    hf_device_map = None
    components: dict = {}


def _library_add_placeholder_tokens(tokenizer, text_encoder, placeholder_token, num_vectors, initializer_token):
    """diffusers' loader adds the tokens, resizes the embedding and copies the rows in."""
    (initializer_id,) = tokenizer.encode(initializer_token, add_special_tokens=False)
    rows = text_encoder.get_input_embeddings().weight[initializer_id].detach().clone().repeat(num_vectors, 1)
    _TextualInversionLoader().load_textual_inversion({placeholder_token: rows}, tokenizer=tokenizer,
                                                      text_encoder=text_encoder)
    return tokenizer.convert_tokens_to_ids(placeholder_tokens(placeholder_token, num_vectors))


ORACLE = SimpleNamespace(add_placeholder_tokens=_library_add_placeholder_tokens)


# -- shared steps, identical on both sides -------------------------------------------------------------------
def placeholder_tokens(placeholder_token, num_vectors) -> list[str]:
    """The names of the vectors: as diffusers' loader expands a multi-vector placeholder."""
    return [placeholder_token] + [f"{placeholder_token}_{i}" for i in range(1, num_vectors)]


def expanded(prompt, placeholder_token, num_vectors) -> str:
    """The prompt with the placeholder written out as all its vectors (what the pipeline's maybe_convert_prompt
    makes of it once the embeddings are loaded)."""
    return prompt.replace(placeholder_token, " ".join(placeholder_tokens(placeholder_token, num_vectors)))


def text_model(encoder_seed):
    """A fresh tiny tokenizer and text encoder; ``recipes.tiny_sd_pipeline(seed)`` holds those of seed + 2."""
    tokenizer = recipes.tiny_tokenizer()
    return tokenizer, recipes.tiny_text_encoder(encoder_seed, tokenizer)


def input_ids(tokenizer, prompts, placeholder_token, num_vectors) -> torch.Tensor:
    """Padded to the tokenizer's length, as StableDiffusionPipeline.encode_prompt tokenizes."""
    texts = [expanded(prompt, placeholder_token, num_vectors) for prompt in prompts]
    return tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                     return_tensors="pt").input_ids


def training_target(target_seed, batch, dtype=torch.float32) -> torch.Tensor:
    """Drawn in fp32 and cast, so that a float64 run trains towards the very same target."""
    return recipes.seeded_randn((batch, recipes.TOKENIZER_LENGTH, recipes.TEXT_DIM), target_seed,
                                scale=TARGET_SCALE).to(dtype)


def filled_rows(fill_seed, num_vectors) -> torch.Tensor:
    return recipes.seeded_randn((num_vectors, recipes.TEXT_DIM), fill_seed, scale=FILLED_ROW_SCALE)


def _file_bytes(write) -> torch.Tensor:
    """What ``write(path)`` wrote, as a uint8 tensor (a missing file fails the test)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, FILE_NAME)
        write(path)
        with open(path, "rb") as file:
            return pickles.as_tensor(file.read())


# -- probes --------------------------------------------------------------------------------------------------
def placeholders(solution, encoder_seed, placeholder_token, num_vectors, initializer_token, prompt):
    """The tokenizer and embedding after add_placeholder_tokens: ids, sizes, rows, and how a prompt tokenizes."""
    tokenizer, text_encoder = text_model(encoder_seed)
    original_rows = len(tokenizer)
    token_ids = solution.add_placeholder_tokens(tokenizer, text_encoder, placeholder_token, num_vectors,
                                                initializer_token)
    weight = text_encoder.get_input_embeddings().weight.detach()
    return {"token_ids": [int(token_id) for token_id in token_ids],
            "ids_of_the_names": tokenizer.convert_tokens_to_ids(placeholder_tokens(placeholder_token, num_vectors)),
            "tokenizer_length": len(tokenizer), "embedding_rows": weight.shape[0],
            "config_vocab_size": text_encoder.config.vocab_size,
            "prompt_tokens": tokenizer.tokenize(expanded(prompt, placeholder_token, num_vectors)),
            "original_rows": weight[:original_rows], "new_rows": weight[original_rows:]}


def initializer_error(solution, encoder_seed, placeholder_token, num_vectors, initializer_token):
    """The exception add_placeholder_tokens raises, by type name ("" when it raises none)."""
    tokenizer, text_encoder = text_model(encoder_seed)
    try:
        solution.add_placeholder_tokens(tokenizer, text_encoder, placeholder_token, num_vectors, initializer_token)
    except ValueError as error:
        return {"raised": type(error).__name__}
    return {"raised": ""}


def training(solution, encoder_seed, placeholder_token, num_vectors, initializer_token, prompts, target_seed, steps,
             learning_rate, weight_decay, dtype=torch.float32):
    """train_placeholder_embeddings on placeholders that diffusers' loader added (so that only training is judged).
    Returns the losses and the placeholders' rows, what else moved (rows and parameters, by index and name) and
    which other parameters were left trainable.
    The float64 truth (``dtype``) casts the encoder once the placeholders are added."""
    tokenizer, text_encoder = text_model(encoder_seed)
    token_ids = ORACLE.add_placeholder_tokens(tokenizer, text_encoder, placeholder_token, num_vectors,
                                              initializer_token)
    text_encoder.to(dtype)
    before = {name: parameter.detach().clone() for name, parameter in text_encoder.named_parameters()}
    embedding_name = next(name for name, parameter in text_encoder.named_parameters()
                          if parameter is text_encoder.get_input_embeddings().weight)

    ids = input_ids(tokenizer, prompts, placeholder_token, num_vectors)
    losses = solution.train_placeholder_embeddings(text_encoder, token_ids, ids, training_target(
        target_seed, len(prompts), dtype), steps, learning_rate, weight_decay)

    after = {name: parameter.detach() for name, parameter in text_encoder.named_parameters()}
    weight, original = after[embedding_name], before[embedding_name]
    other_rows = [row for row in range(weight.shape[0]) if row not in token_ids]
    return {"losses": torch.tensor([float(loss) for loss in losses], dtype=dtype),
            "placeholder_rows": weight[token_ids],
            "placeholder_rows_not_moved": [row for row in token_ids if torch.equal(weight[row], original[row])],
            "other_rows_changed": [row for row in other_rows if not torch.equal(weight[row], original[row])],
            "other_parameters_changed": sorted(name for name, value in after.items()
                                               if name != embedding_name and not torch.equal(value, before[name])),
            "other_parameters_trainable": sorted(name for name, parameter in text_encoder.named_parameters()
                                                 if name != embedding_name and parameter.requires_grad)}


def saved(solution, model_seed, placeholder_token, num_vectors, initializer_token, fill_seed):
    """The bytes save_learned_embeds writes for placeholders that diffusers' loader added and that hold seeded rows,
    in the text encoder of ``recipes.tiny_sd_pipeline(model_seed)``."""
    tokenizer, text_encoder = text_model(model_seed + 2)
    token_ids = ORACLE.add_placeholder_tokens(tokenizer, text_encoder, placeholder_token, num_vectors,
                                              initializer_token)
    with torch.no_grad():
        text_encoder.get_input_embeddings().weight[token_ids] = filled_rows(fill_seed, num_vectors)
    return {"file": _file_bytes(lambda path: solution.save_learned_embeds(text_encoder, placeholder_token, token_ids,
                                                                          path))}


def trained_and_saved(solution, model_seed, placeholder_token, num_vectors, initializer_token, prompts, target_seed,
                      steps, learning_rate, weight_decay, prompt):
    """The candidate's whole route in the text encoder of ``recipes.tiny_sd_pipeline(model_seed)``: add, train,
    save. Returns the file and the trained encoder's embeddings of ``prompt``, its placeholder written out."""
    tokenizer, text_encoder = text_model(model_seed + 2)
    token_ids = solution.add_placeholder_tokens(tokenizer, text_encoder, placeholder_token, num_vectors,
                                                initializer_token)
    solution.train_placeholder_embeddings(text_encoder, token_ids, input_ids(
        tokenizer, prompts, placeholder_token, num_vectors), training_target(target_seed, len(prompts)), steps,
        learning_rate, weight_decay)
    file = _file_bytes(lambda path: solution.save_learned_embeds(text_encoder, placeholder_token, token_ids, path))
    with torch.no_grad():
        prompt_embeds = text_encoder(input_ids(tokenizer, [prompt], placeholder_token, num_vectors))[0]
    return {"file": file, "prompt_embeds": prompt_embeds}


# -- checks the grader runs on replies (not probes) -----------------------------------------------------------
def read_saved(file: torch.Tensor) -> dict:
    """The tensors of a safetensors file's bytes (never unpickled); a file that is not safetensors fails."""
    try:
        return dict(load_safetensors(file.numpy().tobytes()))
    except Exception as error:  # safetensors raises its own SafetensorError, and others for a bad header
        raise MismatchError(f"the saved file is not a safetensors file: {error}") from None


def loaded_prompt_embeds(file: torch.Tensor, model_seed, prompt) -> torch.Tensor:
    """A fresh tiny pipeline loads the file with load_textual_inversion, from a folder, as a user would; then its
    encode_prompt embeds ``prompt`` (its maybe_convert_prompt writes a multi-vector placeholder out)."""
    pipeline = recipes.tiny_sd_pipeline(model_seed)
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, FILE_NAME), "wb") as saved_file:
            saved_file.write(file.numpy().tobytes())
        try:
            pipeline.load_textual_inversion(folder, local_files_only=True)
        except (ValueError, OSError, IndexError) as error:  # what diffusers raises for a file it cannot read
            raise MismatchError(f"load_textual_inversion refused the saved file: {error}") from None
    with torch.no_grad():
        return pipeline.encode_prompt(prompt, "cpu", 1, do_classifier_free_guidance=False)[0]


def reference_prompt_embeds(model_seed, placeholder_token, num_vectors, initializer_token, fill_seed, prompt):
    """What the pipeline's encoder must give once it holds the seeded rows of ``saved``."""
    tokenizer, text_encoder = text_model(model_seed + 2)
    token_ids = ORACLE.add_placeholder_tokens(tokenizer, text_encoder, placeholder_token, num_vectors,
                                              initializer_token)
    with torch.no_grad():
        text_encoder.get_input_embeddings().weight[token_ids] = filled_rows(fill_seed, num_vectors)
        return text_encoder(input_ids(tokenizer, [prompt], placeholder_token, num_vectors))[0]


def assert_saved_rows(saved: dict, placeholder_token, rows: torch.Tensor) -> None:
    """diffusers' format: one tensor, keyed by the placeholder, (num_vectors, hidden_size) float32: the rows."""
    if list(saved) != [placeholder_token]:
        raise MismatchError(f"the saved file holds the keys {sorted(saved)}; expected one, {placeholder_token!r}")
    assert_matches(saved[placeholder_token], rows, rtol=0, atol=0, name=f"saved tensor {placeholder_token!r}")
