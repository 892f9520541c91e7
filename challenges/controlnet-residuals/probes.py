"""Trusted helpers for controlnet-residuals. Each runs with ``solution`` = the candidate's module (in the worker)
or the library itself (the oracle, in the grader), so both sides do exactly the same thing."""

from types import SimpleNamespace

from diffusers import DDIMScheduler, EulerDiscreteScheduler, StableDiffusionControlNetPipeline

from pytest_diffchallenge import recipes

TOKENS = 7
SCHEDULERS = {
    "ddim": lambda: DDIMScheduler(steps_offset=1, clip_sample=False),
    # Euler scales the model input and the initial noise, so forgetting either shows.
    "euler": lambda: EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
}


def _pipeline_loop(unet, controlnet, scheduler, latents, prompt_embeds, negative_prompt_embeds, control_image,
                   num_inference_steps, guidance_scale=7.5, controlnet_conditioning_scale=1.0, guess_mode=False,
                   control_guidance_start=0.0, control_guidance_end=1.0):
    """The oracle: StableDiffusionControlNetPipeline itself, from embeddings to latents (no text encoder or VAE)."""
    pipeline = StableDiffusionControlNetPipeline(
        vae=None, text_encoder=None, tokenizer=None, unet=unet, controlnet=controlnet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline(prompt_embeds=prompt_embeds, negative_prompt_embeds=negative_prompt_embeds, image=control_image,
                    latents=latents, num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
                    controlnet_conditioning_scale=controlnet_conditioning_scale, guess_mode=guess_mode,
                    control_guidance_start=control_guidance_start, control_guidance_end=control_guidance_end,
                    output_type="latent").images


ORACLE = SimpleNamespace(controlnet_denoising_loop=_pipeline_loop)


def loop_inputs(seed, batch=1, size=16):
    """Initial noise, prompt embeddings and a control image in [0, 1] (pixels: twice the latent size)."""
    return dict(latents=recipes.seeded_randn((batch, 4, size // 2, size // 2), seed),
                prompt_embeds=recipes.seeded_randn((batch, TOKENS, recipes.TEXT_DIM), seed + 1),
                negative_prompt_embeds=recipes.seeded_randn((batch, TOKENS, recipes.TEXT_DIM), seed + 2),
                control_image=recipes.seeded_randn((batch, 3, size, size), seed + 3).sigmoid())


def denoising_loop(solution, model_seed, scheduler, latents, prompt_embeds, negative_prompt_embeds, control_image,
                   **options):
    """Runs the candidate's loop (or the pipeline) with a tiny UNet and a tiny ControlNet; returns the latents."""
    unet = recipes.tiny_unet(model_seed)
    controlnet = recipes.tiny_controlnet(model_seed + 1)
    latents = solution.controlnet_denoising_loop(
        unet, controlnet, SCHEDULERS[scheduler](), latents, prompt_embeds, negative_prompt_embeds, control_image,
        **options)
    return {"latents": latents}
