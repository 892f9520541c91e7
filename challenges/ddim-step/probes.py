"""Trusted helpers for ddim-step. Each runs with ``solution`` = the candidate's module (in the worker) or
the library itself (the oracle, in the grader), so both sides do exactly the same thing."""

from types import SimpleNamespace

import torch
from diffusers import DDIMScheduler

from pytest_diffchallenge import recipes

ORACLE = SimpleNamespace(CustomDDIMScheduler=DDIMScheduler)
SHAPE = (2, 4, 8, 8)
BASE_CONFIG = dict(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                   clip_sample=False, set_alpha_to_one=False, steps_offset=1)


def random_inputs(seed, dtype=torch.float32, scale=1.0):
    return dict(sample=recipes.seeded_randn(SHAPE, seed, dtype, scale),
                model_output=recipes.seeded_randn(SHAPE, seed + 1, dtype, scale))


def _scheduler(solution, config, num_inference_steps):
    scheduler = solution.CustomDDIMScheduler(**config)
    scheduler.set_timesteps(num_inference_steps)
    return scheduler


def step(solution, config, num_inference_steps, step_index, sample, model_output, eta=0.0,
         use_clipped_model_output=False, variance_noise=None, generator_seed=None, return_dict=True):
    scheduler = _scheduler(solution, config, num_inference_steps)
    timestep = scheduler.timesteps[step_index]
    out = scheduler.step(model_output, timestep, sample, eta=eta, use_clipped_model_output=use_clipped_model_output,
                         generator=recipes.seeded_generator(generator_seed), variance_noise=variance_noise,
                         return_dict=return_dict)
    if return_dict:
        return {"prev_sample": out.prev_sample, "pred_original_sample": out.pred_original_sample,
                "kind": type(out).__name__}
    return {"prev_sample": out[0], "pred_original_sample": out[1], "kind": type(out).__name__}


def denoising_loop(solution, config, num_inference_steps, unet_seed, latents, text_embeddings, eta=0.0,
                   generator_seed=None):
    """A full loop with a tiny UNet as the model."""
    unet = recipes.tiny_unet(unet_seed)
    scheduler = _scheduler(solution, config, num_inference_steps)
    return {"sample": recipes.unet_sampling_loop(unet, scheduler, latents, text_embeddings, eta=eta,
                                                 generator=recipes.seeded_generator(generator_seed))}


def pipeline_images(solution, config, prompt, num_inference_steps, model_seed, seed, eta=0.0, guidance_scale=5.0):
    """A tiny StableDiffusionPipeline using the scheduler."""
    pipeline = recipes.tiny_sd_pipeline(model_seed, scheduler=solution.CustomDDIMScheduler(**config))
    images = pipeline(prompt, num_inference_steps=num_inference_steps, height=32, width=32, eta=eta,
                      guidance_scale=guidance_scale, generator=torch.Generator().manual_seed(seed),
                      output_type="pt").images
    return {"images": images}
