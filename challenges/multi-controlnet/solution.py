"""multi-controlnet: combine several ControlNets in the denoising loop. See README.md."""

import torch


def multi_controlnet_residuals(controlnets, sample, timestep, encoder_hidden_states, control_images,
                               conditioning_scales, guess_mode=False):
    raise NotImplementedError(
        "multi_controlnet_residuals is not implemented yet: run each ControlNet with its own image and scale "
        "and combine their residuals (see README.md)")


@torch.no_grad()
def multi_controlnet_denoising_loop(unet, controlnets, scheduler, latents, prompt_embeds, negative_prompt_embeds,
                                    control_images, num_inference_steps, guidance_scale=7.5,
                                    controlnet_conditioning_scale=1.0, guess_mode=False,
                                    control_guidance_start=0.0, control_guidance_end=1.0):
    raise NotImplementedError(
        "multi_controlnet_denoising_loop is not implemented yet: the ControlNet pipeline's loop with a list of "
        "nets, each with its own scale and guidance window (see README.md)")
