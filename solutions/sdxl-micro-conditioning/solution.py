"""Reference solution for sdxl-micro-conditioning: what StableDiffusionXLPipeline feeds its UNet besides the
noisy latents (Podell et al., 2023, section 2.2: size and crop conditioning)."""

import torch


def get_add_time_ids(pipeline, original_size, crops_coords_top_left, target_size, dtype=torch.float32):
    """One row of six numbers: (original h, w, crop top, left, target h, w)."""
    add_time_ids = [*original_size, *crops_coords_top_left, *target_size]
    # each id gets its own sinusoidal embedding, concatenated after the pooled text embedding
    projection_dim = pipeline.text_encoder_2.config.projection_dim
    passed_dim = pipeline.unet.config.addition_time_embed_dim * len(add_time_ids) + projection_dim
    expected_dim = pipeline.unet.add_embedding.linear_1.in_features
    if passed_dim != expected_dim:
        raise ValueError(f"the UNet's added embedding takes {expected_dim} inputs, but the time ids and pooled "
                         f"text embedding make {passed_dim}")
    return torch.tensor([add_time_ids], dtype=dtype)


def unet_conditioning(pipeline, prompt, negative_prompt=None, height=32, width=32, original_size=None,
                      crops_coords_top_left=(0, 0), target_size=None, negative_original_size=None,
                      negative_crops_coords_top_left=(0, 0), negative_target_size=None, num_images_per_prompt=1,
                      guidance_scale=5.0):
    batch_size = 1 if isinstance(prompt, str) else len(prompt)
    do_cfg = guidance_scale > 1 and pipeline.unet.config.time_cond_proj_dim is None
    # by default the model is told it sees an uncropped image at the requested size
    original_size = original_size or (height, width)
    target_size = target_size or (height, width)

    # 1. both encoders' penultimate states (the context) and the second's pooled projection, per image
    prompt_embeds, negative_prompt_embeds, pooled_prompt_embeds, negative_pooled_prompt_embeds = pipeline.encode_prompt(
        prompt, device="cpu", num_images_per_prompt=num_images_per_prompt, do_classifier_free_guidance=do_cfg,
        negative_prompt=negative_prompt)

    # 2. the micro-conditioning; the negative one only when both its sizes are given
    add_time_ids = get_add_time_ids(pipeline, original_size, crops_coords_top_left, target_size, prompt_embeds.dtype)
    if negative_original_size is not None and negative_target_size is not None:
        negative_add_time_ids = get_add_time_ids(pipeline, negative_original_size, negative_crops_coords_top_left,
                                                 negative_target_size, prompt_embeds.dtype)
    else:
        negative_add_time_ids = add_time_ids

    # 3. under guidance, the unconditional half first
    add_text_embeds = pooled_prompt_embeds
    if do_cfg:
        prompt_embeds = torch.cat([negative_prompt_embeds, prompt_embeds])
        add_text_embeds = torch.cat([negative_pooled_prompt_embeds, add_text_embeds])
        add_time_ids = torch.cat([negative_add_time_ids, add_time_ids])
    # diffusers repeats the (negative, positive) pair of rows, so the rows alternate rather than split in halves
    add_time_ids = add_time_ids.repeat(batch_size * num_images_per_prompt, 1)
    return {"encoder_hidden_states": prompt_embeds, "text_embeds": add_text_embeds, "time_ids": add_time_ids}
