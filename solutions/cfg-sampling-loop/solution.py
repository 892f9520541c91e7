"""Reference solution for cfg-sampling-loop: the text-to-image denoising loop of StableDiffusionPipeline,
with classifier-free guidance (Ho & Salimans, 2022) and its rescale (Lin et al., 2023, section 3.4)."""

import inspect

import torch
from diffusers.utils.torch_utils import randn_tensor


def rescale_noise_cfg(noise_cfg, noise_pred_text, guidance_rescale=0.0):
    """Pull the guided prediction's per-sample std back to the text prediction's (fixes over-exposure), then
    mix: guidance_rescale = 0 keeps plain CFG, 1 takes the fully rescaled prediction."""
    sample_dims = list(range(1, noise_pred_text.ndim))
    std_text = noise_pred_text.std(dim=sample_dims, keepdim=True)
    std_cfg = noise_cfg.std(dim=sample_dims, keepdim=True)
    noise_pred_rescaled = noise_cfg * (std_text / std_cfg)
    return guidance_rescale * noise_pred_rescaled + (1 - guidance_rescale) * noise_cfg


def generate(pipeline, prompt, negative_prompt=None, height=32, width=32, num_inference_steps=4, guidance_scale=7.5,
             guidance_rescale=0.0, num_images_per_prompt=1, eta=0.0, generator=None):
    unet, scheduler = pipeline.unet, pipeline.scheduler
    batch_size = 1 if isinstance(prompt, str) else len(prompt)
    # guidance_scale 1 would give the text prediction anyway: skip the unconditional half
    do_cfg = guidance_scale > 1

    # 1. text embeddings, each prompt's repeated num_images_per_prompt times in a row
    prompt_embeds, negative_prompt_embeds = pipeline.encode_prompt(
        prompt, "cpu", num_images_per_prompt, do_cfg, negative_prompt)
    if do_cfg:
        # one UNet call for both: the unconditional half first
        prompt_embeds = torch.cat([negative_prompt_embeds, prompt_embeds])

    # 2. timesteps, then the initial noise at the scale the scheduler's first step expects
    scheduler.set_timesteps(num_inference_steps)
    shape = (batch_size * num_images_per_prompt, unet.config.in_channels, height // pipeline.vae_scale_factor,
             width // pipeline.vae_scale_factor)
    latents = randn_tensor(shape, generator=generator, dtype=prompt_embeds.dtype)
    latents = latents * scheduler.init_noise_sigma

    # 3. only some schedulers take eta (DDIM) or a generator (the stochastic ones)
    step_parameters = inspect.signature(scheduler.step).parameters
    step_kwargs = {name: value for name, value in (("eta", eta), ("generator", generator)) if name in step_parameters}

    # 4. the loop
    for t in scheduler.timesteps:
        model_input = torch.cat([latents] * 2) if do_cfg else latents
        model_input = scheduler.scale_model_input(model_input, t)  # Euler: x / sqrt(sigma^2 + 1)
        noise_pred = unet(model_input, t, encoder_hidden_states=prompt_embeds, return_dict=False)[0]

        if do_cfg:
            noise_pred_uncond, noise_pred_text = noise_pred.chunk(2)
            noise_pred = noise_pred_uncond + guidance_scale * (noise_pred_text - noise_pred_uncond)
            if guidance_rescale > 0:
                noise_pred = rescale_noise_cfg(noise_pred, noise_pred_text, guidance_rescale)

        latents = scheduler.step(noise_pred, t, latents, **step_kwargs, return_dict=False)[0]
    return latents
