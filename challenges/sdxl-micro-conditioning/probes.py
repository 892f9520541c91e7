"""Trusted helpers for sdxl-micro-conditioning. Each runs with ``solution`` = the candidate's module (in the
worker) or the library itself (the oracle, in the grader), so both sides do exactly the same thing."""

from types import SimpleNamespace

import torch

from pytest_diffchallenge import recipes


def _tuple(value):
    return None if value is None else tuple(value)  # sizes arrive as JSON lists


def _library_add_time_ids(pipeline, original_size, crops_coords_top_left, target_size, dtype=torch.float32):
    return pipeline._get_add_time_ids(original_size, crops_coords_top_left, target_size, dtype=dtype,
                                      text_encoder_projection_dim=pipeline.text_encoder_2.config.projection_dim)


def _library_unet_conditioning(pipeline, prompt, negative_prompt=None, height=32, width=32, original_size=None,
                               crops_coords_top_left=(0, 0), target_size=None, negative_original_size=None,
                               negative_crops_coords_top_left=(0, 0), negative_target_size=None,
                               num_images_per_prompt=1, guidance_scale=5.0):
    """Run the pipeline for one step, with the statement's defaults (its own size would be 16 px), and capture
    what its UNet receives (a forward pre-hook)."""
    captured = {}

    def capture(unet, args, kwargs):
        captured.update(encoder_hidden_states=kwargs["encoder_hidden_states"], **kwargs["added_cond_kwargs"])

    hook = pipeline.unet.register_forward_pre_hook(capture, with_kwargs=True)
    try:
        pipeline(prompt, negative_prompt=negative_prompt, height=height, width=width, original_size=original_size,
                 crops_coords_top_left=crops_coords_top_left, target_size=target_size,
                 negative_original_size=negative_original_size,
                 negative_crops_coords_top_left=negative_crops_coords_top_left,
                 negative_target_size=negative_target_size, num_images_per_prompt=num_images_per_prompt,
                 guidance_scale=guidance_scale, num_inference_steps=1, output_type="latent",
                 generator=torch.Generator().manual_seed(0))
    finally:
        hook.remove()
    return captured


ORACLE = SimpleNamespace(get_add_time_ids=_library_add_time_ids, unet_conditioning=_library_unet_conditioning)


def add_time_ids(solution, original_size, crops_coords_top_left, target_size, dtype=None):
    """``dtype=None``: the argument is left out (its default)."""
    pipeline = recipes.tiny_sdxl_pipeline(0)
    options = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    return {"time_ids": solution.get_add_time_ids(pipeline, _tuple(original_size), _tuple(crops_coords_top_left),
                                                  _tuple(target_size), **options)}


def rejects_mismatched_embedding(solution, projection_dim=16, embedding_inputs=None):
    """A second text encoder whose projection leaves the UNet's added embedding (6 x 8 + 32 = 80 inputs) short
    (16: 64 inputs) or overfull (48: 96 inputs). ``embedding_inputs``: an added embedding that takes that many
    inputs instead (its first layer replaced; nothing runs it), as wide as SDXL's 2816, say."""
    pipeline = recipes.tiny_sdxl_pipeline(0)
    pipeline.text_encoder_2 = recipes.tiny_text_encoder(3, pipeline.tokenizer_2, projection_dim=projection_dim)
    if embedding_inputs is not None:
        embedding = pipeline.unet.add_embedding
        embedding.linear_1 = torch.nn.Linear(embedding_inputs, embedding.linear_1.out_features)
    try:
        solution.get_add_time_ids(pipeline, (32, 32), (0, 0), (32, 32))
    except ValueError:
        return {"raises_value_error": True}
    return {"raises_value_error": False}


SIZE_OPTIONS = ("original_size", "crops_coords_top_left", "target_size", "negative_original_size",
                "negative_crops_coords_top_left", "negative_target_size")


def unet_conditioning(solution, model_seed, prompt, **options):
    """``options`` (negative_prompt, height, width, the six sizes, num_images_per_prompt, guidance_scale) are
    passed only when the test names them, so the others take unet_conditioning's defaults."""
    pipeline = recipes.tiny_sdxl_pipeline(model_seed)
    options = {key: _tuple(value) if key in SIZE_OPTIONS else value for key, value in options.items()}
    with torch.no_grad():
        conditioning = solution.unet_conditioning(pipeline, prompt, **options)
    return {key: conditioning[key] for key in ("encoder_hidden_states", "text_embeds", "time_ids")}
