"""Reference solution for textual-inversion: new placeholder tokens whose embedding rows alone are trained, as
diffusers' examples/textual_inversion/textual_inversion.py does it."""

import torch
import torch.nn.functional as F
from safetensors.torch import save_file


def add_placeholder_tokens(tokenizer, text_encoder, placeholder_token: str, num_vectors: int,
                           initializer_token: str) -> list[int]:
    # several vectors are several tokens, named as diffusers' loader names them when it expands the placeholder
    placeholder_tokens = [placeholder_token] + [f"{placeholder_token}_{i}" for i in range(1, num_vectors)]
    # encode, not convert_tokens_to_ids: CLIP's vocabulary holds the word as "a</w>", and "a" is another token
    initializer_ids = tokenizer.encode(initializer_token, add_special_tokens=False)
    if len(initializer_ids) != 1:
        raise ValueError(f"the initializer {initializer_token!r} is {len(initializer_ids)} tokens, not one")

    tokenizer.add_tokens(placeholder_tokens)
    placeholder_token_ids = tokenizer.convert_tokens_to_ids(placeholder_tokens)

    text_encoder.resize_token_embeddings(len(tokenizer))
    token_embeds = text_encoder.get_input_embeddings().weight
    with torch.no_grad():
        for token_id in placeholder_token_ids:
            token_embeds[token_id] = token_embeds[initializer_ids[0]].clone()
    return placeholder_token_ids


def train_placeholder_embeddings(text_encoder, placeholder_token_ids: list[int], input_ids: torch.Tensor,
                                 target: torch.Tensor, steps: int, learning_rate: float,
                                 weight_decay: float) -> list[float]:
    token_embedding = text_encoder.get_input_embeddings()
    text_encoder.requires_grad_(False)
    token_embedding.weight.requires_grad_(True)
    optimizer = torch.optim.AdamW([token_embedding.weight], lr=learning_rate, weight_decay=weight_decay)

    # every row but the placeholders' is put back after each step: the gradient moves the rows of the prompt's
    # other tokens, and AdamW's weight decay shrinks every row, gradient or not
    index_no_updates = torch.ones(token_embedding.num_embeddings, dtype=torch.bool)
    index_no_updates[placeholder_token_ids] = False
    orig_embeds = token_embedding.weight.detach().clone()

    losses = []
    for _ in range(steps):
        loss = F.mse_loss(text_encoder(input_ids).last_hidden_state, target)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        with torch.no_grad():
            token_embedding.weight[index_no_updates] = orig_embeds[index_no_updates]
        losses.append(loss.item())
    return losses


def save_learned_embeds(text_encoder, placeholder_token: str, placeholder_token_ids: list[int], path: str) -> None:
    # diffusers' format: one tensor (num_vectors, hidden_size) under the placeholder's name; load_textual_inversion
    # splits it back into placeholder, placeholder_1, ...
    learned_embeds = text_encoder.get_input_embeddings().weight[placeholder_token_ids].detach().cpu()
    save_file({placeholder_token: learned_embeds.contiguous()}, path)
