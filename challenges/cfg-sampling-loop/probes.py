"""Trusted helpers for cfg-sampling-loop. Each runs with ``solution`` = the candidate's module (in the worker)
or the library itself (the oracle, in the grader), so both sides do exactly the same thing."""

import contextlib
from types import SimpleNamespace

import torch
from diffusers import DDIMScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, StableDiffusionPipeline
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg

from pytest_diffchallenge import recipes


def _library_generate(pipeline, prompt, negative_prompt=None, height=32, width=32, num_inference_steps=4,
                      guidance_scale=7.5, guidance_rescale=0.0, num_images_per_prompt=1, eta=0.0, generator=None):
    """The pipeline, with the statement's defaults (its own would be 16 px and 50 steps)."""
    return pipeline(prompt, negative_prompt=negative_prompt, height=height, width=width,
                    num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
                    guidance_rescale=guidance_rescale, num_images_per_prompt=num_images_per_prompt, eta=eta,
                    generator=generator, output_type="latent").images


ORACLE = SimpleNamespace(rescale_noise_cfg=rescale_noise_cfg, generate=_library_generate)
SD_BETAS = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1)
SCHEDULERS = {
    "ddim": lambda spacing: DDIMScheduler(**SD_BETAS, clip_sample=False, set_alpha_to_one=False,
                                          timestep_spacing=spacing),
    # Euler's init_noise_sigma (sigma_max, 14.6) and scale_model_input (1 / sqrt(sigma^2 + 1)) both matter
    "euler": lambda spacing: EulerDiscreteScheduler(**SD_BETAS, timestep_spacing=spacing),
    # draws fresh noise at every step: the generator must reach the scheduler
    "euler-ancestral": lambda spacing: EulerAncestralDiscreteScheduler(**SD_BETAS, timestep_spacing=spacing),
}


def rescale(solution, noise_cfg, noise_pred_text, guidance_rescale=None):
    """``guidance_rescale=None``: the argument is left out (its default)."""
    options = {} if guidance_rescale is None else {"guidance_rescale": guidance_rescale}
    return {"noise_cfg": solution.rescale_noise_cfg(noise_cfg, noise_pred_text, **options)}


# The oracle's last pipeline: the grader's float64 truth run, which follows the oracle's run on the same inputs,
# takes its components (inference leaves them as built) instead of building them again.
_LAST_ORACLE_PIPELINE = {}


def _pipeline(solution, model_seed, scheduler, truth):
    built = _LAST_ORACLE_PIPELINE.pop(model_seed, None) if truth else None
    if built is None:
        built = recipes.tiny_sd_pipeline(model_seed)
    pipeline = StableDiffusionPipeline(**{**built.components, "scheduler": scheduler}, requires_safety_checker=False)
    pipeline.set_progress_bar_config(disable=True)
    if solution is ORACLE and not truth:
        _LAST_ORACLE_PIPELINE.clear()
        _LAST_ORACLE_PIPELINE[model_seed] = pipeline
    return pipeline.to(torch.float64) if truth else pipeline


def generate(solution, scheduler, model_seed, prompt, seed, spacing="leading", dtype="float32", **options):
    """The latents after the loop, for a tiny StableDiffusionPipeline with the named scheduler; ``options``
    (negative_prompt, height, width, num_inference_steps, guidance_scale, guidance_rescale, num_images_per_prompt,
    eta) are passed only when the test names them, so the others take generate's defaults. ``seed`` is an int
    (one generator) or a list (one generator per image). ``dtype="float64"`` is the grader's truth run."""
    truth = dtype == "float64"
    pipeline = _pipeline(solution, model_seed, SCHEDULERS[scheduler](spacing), truth)
    generator = ([torch.Generator().manual_seed(s) for s in seed] if isinstance(seed, list)
                 else torch.Generator().manual_seed(seed))
    with torch.no_grad(), recipes.library_noise_drawn_in(torch.float32) if truth else contextlib.nullcontext():
        latents = solution.generate(pipeline, prompt, generator=generator, **options)
    return {"latents": latents}
