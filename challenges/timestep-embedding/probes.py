"""Trusted helpers for timestep-embedding. Each runs with ``solution`` = the candidate's module (in the worker)
or the library itself (the oracle, in the grader), so both sides do exactly the same thing."""

from types import SimpleNamespace

import torch
from diffusers.models.embeddings import Timesteps, get_timestep_embedding

from pytest_diffchallenge import recipes

ORACLE = SimpleNamespace(get_timestep_embedding=get_timestep_embedding, Timesteps=Timesteps)
BATCH = 2
SDXL_TEXT_EMBEDS = 32  # projection_class_embeddings_input_dim (80) - 6 * addition_time_embed_dim (8)


def embedding(solution, timesteps, embedding_dim, **options):
    """The function alone; options are passed only when the test names them (the defaults are graded too)."""
    return {"embedding": solution.get_timestep_embedding(timesteps, embedding_dim, **options)}


def module(solution, timesteps, num_channels, flip_sin_to_cos, downscale_freq_shift, **options):
    """The module; ``scale`` is passed only when the test names it (the default is graded too)."""
    time_proj = solution.Timesteps(num_channels, flip_sin_to_cos, downscale_freq_shift, **options)
    return {"embedding": time_proj(timesteps)}


def unet(solution, unet_seed, timestep, data_seed, flip_sin_to_cos=True, freq_shift=0, sdxl=False):
    """A tiny UNet whose time_proj (and SDXL's add_time_proj, which embeds the micro-conditioning ids) is
    the solution's Timesteps. ``timestep`` is a number or a tensor with one timestep per batch element."""
    model = recipes.tiny_unet(unet_seed, sdxl=sdxl)
    model.time_proj = solution.Timesteps(model.time_proj.num_channels, flip_sin_to_cos, freq_shift)
    sample = recipes.seeded_randn((BATCH, 4, 8, 8), data_seed)
    text = recipes.seeded_randn((BATCH, 6, model.config.cross_attention_dim), data_seed + 1)
    added = None
    if sdxl:
        model.add_time_proj = solution.Timesteps(model.config.addition_time_embed_dim, flip_sin_to_cos, freq_shift)
        # (original size, crop top-left, target size) per image, as SDXL's pipeline builds them
        time_ids = torch.tensor([[64.0, 48.0, 0.0, 8.0, 64.0, 64.0], [1024.0, 768.0, 16.0, 0.0, 512.0, 512.0]])
        added = {"text_embeds": recipes.seeded_randn((BATCH, SDXL_TEXT_EMBEDS), data_seed + 2), "time_ids": time_ids}
    with torch.no_grad():
        output = model(sample, timestep, encoder_hidden_states=text, added_cond_kwargs=added).sample
    return {"sample": output}
