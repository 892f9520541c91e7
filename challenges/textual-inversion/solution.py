"""textual-inversion: placeholder tokens whose embedding rows alone are trained, saved for diffusers. See README.md."""

import torch


def add_placeholder_tokens(tokenizer, text_encoder, placeholder_token: str, num_vectors: int,
                           initializer_token: str) -> list[int]:
    raise NotImplementedError(
        "add_placeholder_tokens is not implemented yet: add placeholder_token (and placeholder_token_1, ... for "
        "several vectors) to the tokenizer, resize the text encoder's token embedding, copy the initializer's row "
        "into every new row and return the new ids (see README.md)")


def train_placeholder_embeddings(text_encoder, placeholder_token_ids: list[int], input_ids: torch.Tensor,
                                 target: torch.Tensor, steps: int, learning_rate: float,
                                 weight_decay: float) -> list[float]:
    raise NotImplementedError(
        "train_placeholder_embeddings is not implemented yet: run `steps` AdamW steps on the MSE of the encoder's "
        "last_hidden_state to target, training the placeholders' rows only: every other row and every other "
        "parameter must stay bitwise unchanged (see README.md)")


def save_learned_embeds(text_encoder, placeholder_token: str, placeholder_token_ids: list[int], path: str) -> None:
    raise NotImplementedError(
        "save_learned_embeds is not implemented yet: write the placeholders' rows to a safetensors file at path, "
        "in the format diffusers' load_textual_inversion loads (see README.md)")
