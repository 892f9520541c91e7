"""Trusted helpers for controlnet-residuals. Each runs with ``solution`` = the candidate's module (in the worker)
or the library itself (the oracle, in the grader), so both sides do exactly the same thing.

``dtype`` is for the float64 truth run (``equivalence.check_against_truth``): only the grader passes it."""

from types import SimpleNamespace

import torch
from diffusers import DDIMScheduler, EulerDiscreteScheduler, StableDiffusionControlNetPipeline

from pytest_diffchallenge import recipes

TOKENS = 7
SCHEDULERS = {
    "ddim": lambda: DDIMScheduler(steps_offset=1, clip_sample=False),
    # Euler scales the model input and the initial noise, so forgetting either shows.
    "euler": lambda: EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
}


def _pipeline_loop(unet, controlnet, scheduler, latents, prompt_embeds, negative_prompt_embeds, control_image,
                   num_inference_steps, **options):
    """The oracle: StableDiffusionControlNetPipeline itself, from embeddings to latents (no text encoder or VAE).
    Options a test leaves out are left out here too, so that the pipeline's own defaults apply."""
    pipeline = StableDiffusionControlNetPipeline(
        vae=None, text_encoder=None, tokenizer=None, unet=unet, controlnet=controlnet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline(prompt_embeds=prompt_embeds, negative_prompt_embeds=negative_prompt_embeds, image=control_image,
                    latents=latents, num_inference_steps=num_inference_steps, output_type="latent",
                    **options).images


ORACLE = SimpleNamespace(controlnet_denoising_loop=_pipeline_loop)


def loop_inputs(seed, batch=1, size=16, width=None):
    """Initial noise, prompt embeddings and a control image in [0, 1] (pixels: twice the latent size).
    ``size`` x ``width`` pixels (``width`` defaults to ``size``), each a multiple of 8: the pipeline resizes
    its control image to a multiple of its (VAE-less) scale factor, 8."""
    width = width or size
    return dict(latents=recipes.seeded_randn((batch, 4, size // 2, width // 2), seed),
                prompt_embeds=recipes.seeded_randn((batch, TOKENS, recipes.TEXT_DIM), seed + 1),
                negative_prompt_embeds=recipes.seeded_randn((batch, TOKENS, recipes.TEXT_DIM), seed + 2),
                control_image=recipes.seeded_randn((batch, 3, size, width), seed + 3).sigmoid())


def denoising_loop(solution, model_seed, scheduler, latents, prompt_embeds, negative_prompt_embeds, control_image,
                   dtype="float32", **options):
    """Runs the candidate's loop (or the pipeline) with a tiny UNet and a tiny ControlNet; returns the latents.
    ``dtype="float64"``: the grader's truth run, the same models (built in fp32) cast to float64."""
    dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    unet = recipes.tiny_unet(model_seed, dtype=dtype)
    controlnet = recipes.tiny_controlnet(model_seed + 1)
    controlnet = controlnet if dtype == torch.float32 else controlnet.to(dtype)
    latents = solution.controlnet_denoising_loop(
        unet, controlnet, SCHEDULERS[scheduler](), latents, prompt_embeds, negative_prompt_embeds, control_image,
        **options)
    return {"latents": latents}
