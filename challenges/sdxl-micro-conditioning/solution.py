"""sdxl-micro-conditioning: build what StableDiffusionXLPipeline feeds its UNet. See README.md."""

import torch


def get_add_time_ids(pipeline, original_size, crops_coords_top_left, target_size, dtype=torch.float32):
    raise NotImplementedError("get_add_time_ids: one row of six size and crop numbers, checked against the "
                              "UNet's added embedding (see README.md)")


def unet_conditioning(pipeline, prompt, negative_prompt=None, height=32, width=32, original_size=None,
                      crops_coords_top_left=(0, 0), target_size=None, negative_original_size=None,
                      negative_crops_coords_top_left=(0, 0), negative_target_size=None, num_images_per_prompt=1,
                      guidance_scale=5.0):
    raise NotImplementedError("unet_conditioning: return encoder_hidden_states, text_embeds and time_ids exactly "
                              "as the pipeline passes them to its UNet (see README.md)")
