"""Reference solution for multi-controlnet: several ControlNets steering one UNet, written out."""

import torch


def multi_controlnet_residuals(controlnets, sample, timestep, encoder_hidden_states, control_images,
                               conditioning_scales, guess_mode=False):
    """Run every ControlNet on its own image and scale, and sum their residuals block by block."""
    down_block_res_samples, mid_block_res_sample = None, None
    for controlnet, image, scale in zip(controlnets, control_images, conditioning_scales, strict=True):
        down_samples, mid_sample = controlnet(sample, timestep, encoder_hidden_states=encoder_hidden_states,
                                              controlnet_cond=image, conditioning_scale=scale,
                                              guess_mode=guess_mode, return_dict=False)
        if down_block_res_samples is None:
            down_block_res_samples, mid_block_res_sample = list(down_samples), mid_sample
        else:
            down_block_res_samples = [total + new for total, new in
                                      zip(down_block_res_samples, down_samples, strict=True)]
            mid_block_res_sample = mid_block_res_sample + mid_sample
    return down_block_res_samples, mid_block_res_sample


def per_net(value, count):
    """A single value applies to every net; a list gives one value per net."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * count
    if len(values) != count:
        raise ValueError(f"expected {count} values, one per ControlNet, got {len(values)}")
    return values


def controlnet_keep(step_index, num_steps, start, end):
    """1.0 while step ``step_index`` lies wholly inside the [start, end] fraction of the schedule, else 0.0."""
    return 1.0 - float(step_index / num_steps < start or (step_index + 1) / num_steps > end)


@torch.no_grad()
def multi_controlnet_denoising_loop(unet, controlnets, scheduler, latents, prompt_embeds, negative_prompt_embeds,
                                    control_images, num_inference_steps, guidance_scale=7.5,
                                    controlnet_conditioning_scale=1.0, guess_mode=False,
                                    control_guidance_start=0.0, control_guidance_end=1.0):
    count = len(controlnets)
    scales = per_net(controlnet_conditioning_scale, count)
    starts = per_net(control_guidance_start, count)
    ends = per_net(control_guidance_end, count)

    do_classifier_free_guidance = guidance_scale > 1.0
    scheduler.set_timesteps(num_inference_steps)
    timesteps = scheduler.timesteps
    latents = latents * scheduler.init_noise_sigma

    # One batch for both CFG branches: unconditional first, then conditional.
    if do_classifier_free_guidance:
        prompt_embeds = torch.cat([negative_prompt_embeds, prompt_embeds])
    # In guess mode the ControlNets see only the conditional branch, so their images are not doubled.
    images = [image.to(controlnet.dtype) for image, controlnet in zip(control_images, controlnets, strict=True)]
    if do_classifier_free_guidance and not guess_mode:
        images = [torch.cat([image] * 2) for image in images]

    for i, t in enumerate(timesteps):
        latent_model_input = torch.cat([latents] * 2) if do_classifier_free_guidance else latents
        latent_model_input = scheduler.scale_model_input(latent_model_input, t)

        if guess_mode and do_classifier_free_guidance:
            control_model_input = scheduler.scale_model_input(latents, t)
            controlnet_prompt_embeds = prompt_embeds.chunk(2)[1]
        else:
            control_model_input = latent_model_input
            controlnet_prompt_embeds = prompt_embeds

        # Each net has its own window: outside it, its residuals are scaled to zero.
        step_scales = [scale * controlnet_keep(i, len(timesteps), start, end)
                       for scale, start, end in zip(scales, starts, ends, strict=True)]
        down_block_res_samples, mid_block_res_sample = multi_controlnet_residuals(
            controlnets, control_model_input, t, controlnet_prompt_embeds, images, step_scales, guess_mode)

        if guess_mode and do_classifier_free_guidance:
            # The unconditional branch gets no control: add zeros to it.
            down_block_res_samples = [torch.cat([torch.zeros_like(d), d]) for d in down_block_res_samples]
            mid_block_res_sample = torch.cat([torch.zeros_like(mid_block_res_sample), mid_block_res_sample])

        noise_pred = unet(latent_model_input, t, encoder_hidden_states=prompt_embeds,
                          down_block_additional_residuals=down_block_res_samples,
                          mid_block_additional_residual=mid_block_res_sample, return_dict=False)[0]

        if do_classifier_free_guidance:
            noise_pred_uncond, noise_pred_text = noise_pred.chunk(2)
            noise_pred = noise_pred_uncond + guidance_scale * (noise_pred_text - noise_pred_uncond)

        latents = scheduler.step(noise_pred, t, latents, return_dict=False)[0]
    return latents
