"""Reference solution for controlnet-residuals: the denoising loop of a ControlNet pipeline, written out."""

import torch


def controlnet_keep(step_index, num_steps, control_guidance_start, control_guidance_end):
    """1.0 while step ``step_index`` lies wholly inside the [start, end] fraction of the schedule, else 0.0."""
    outside = step_index / num_steps < control_guidance_start or (step_index + 1) / num_steps > control_guidance_end
    return 1.0 - float(outside)


@torch.no_grad()
def controlnet_denoising_loop(unet, controlnet, scheduler, latents, prompt_embeds, negative_prompt_embeds,
                              control_image, num_inference_steps, guidance_scale=7.5,
                              controlnet_conditioning_scale=1.0, guess_mode=False,
                              control_guidance_start=0.0, control_guidance_end=1.0):
    do_classifier_free_guidance = guidance_scale > 1.0
    scheduler.set_timesteps(num_inference_steps)
    timesteps = scheduler.timesteps
    latents = latents * scheduler.init_noise_sigma

    # One batch for both CFG branches: unconditional first, then conditional.
    if do_classifier_free_guidance:
        prompt_embeds = torch.cat([negative_prompt_embeds, prompt_embeds])
    # In guess mode the ControlNet sees only the conditional branch, so its image is not doubled.
    controlnet_image = control_image.to(controlnet.dtype)
    if do_classifier_free_guidance and not guess_mode:
        controlnet_image = torch.cat([controlnet_image] * 2)

    for i, t in enumerate(timesteps):
        latent_model_input = torch.cat([latents] * 2) if do_classifier_free_guidance else latents
        latent_model_input = scheduler.scale_model_input(latent_model_input, t)

        if guess_mode and do_classifier_free_guidance:
            control_model_input = scheduler.scale_model_input(latents, t)
            controlnet_prompt_embeds = prompt_embeds.chunk(2)[1]
        else:
            control_model_input = latent_model_input
            controlnet_prompt_embeds = prompt_embeds

        # Outside the guidance window the ControlNet still runs, with its residuals scaled to zero.
        cond_scale = controlnet_conditioning_scale * controlnet_keep(
            i, len(timesteps), control_guidance_start, control_guidance_end)
        down_block_res_samples, mid_block_res_sample = controlnet(
            control_model_input, t, encoder_hidden_states=controlnet_prompt_embeds, controlnet_cond=controlnet_image,
            conditioning_scale=cond_scale, guess_mode=guess_mode, return_dict=False)

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
