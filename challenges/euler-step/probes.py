"""Trusted helpers for euler-step. Each runs with ``solution`` = the candidate's module (in the worker) or
the library itself (the oracle, in the grader), so both sides do exactly the same thing.

``dtype`` and ``noise_dtype`` parameters are for the float64 truth run (``equivalence.check_against_truth``):
only the grader passes them; the candidate's run always uses the defaults."""

from contextlib import nullcontext
from types import SimpleNamespace

import torch
from diffusers import EulerDiscreteScheduler

from pytest_diffchallenge import recipes

ORACLE = SimpleNamespace(CustomEulerScheduler=EulerDiscreteScheduler)
SHAPE = (2, 4, 8, 8)
# Stable Diffusion 1.x/2.x's training schedule
BASE_CONFIG = dict(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                   steps_offset=1)


def random_inputs(seed, dtype=torch.float32, scale=1.0, model_output_dtype=None):
    return dict(sample=recipes.seeded_randn(SHAPE, seed, dtype, scale),
                model_output=recipes.seeded_randn(SHAPE, seed + 1, model_output_dtype or dtype))


def _scheduler(solution, config, num_inference_steps):
    scheduler = solution.CustomEulerScheduler(**config)
    scheduler.set_timesteps(num_inference_steps)
    return scheduler


def _generator(seed):
    """None, one CPU generator (an int seed), or a list of them, one per batch element (a list of seeds)."""
    if isinstance(seed, list):
        return [recipes.seeded_generator(s) for s in seed]
    return recipes.seeded_generator(seed)


def schedule(solution, config, num_inference_steps):
    scheduler = _scheduler(solution, config, num_inference_steps)
    return {"timesteps": scheduler.timesteps, "sigmas": scheduler.sigmas,
            "num_inference_steps": scheduler.num_inference_steps,
            "init_noise_sigma": torch.as_tensor(scheduler.init_noise_sigma, dtype=torch.float32)}


def scale_model_input(solution, config, num_inference_steps, step_index, sample):
    scheduler = _scheduler(solution, config, num_inference_steps)
    return {"scaled": scheduler.scale_model_input(sample, scheduler.timesteps[step_index])}


def step(solution, config, num_inference_steps, step_index, sample, model_output, churn=None, generator_seed=None,
         return_dict=True, noise_dtype=None, window_at_sigma=False):
    """One step at ``step_index``; ``churn`` holds step's s_churn/s_tmin/s_tmax/s_noise when a test sets them.
    ``window_at_sigma``: s_tmin and s_tmax are both the step's own sigma (the churn window's closed ends)."""
    scheduler = _scheduler(solution, config, num_inference_steps)
    if window_at_sigma:
        sigma = float(scheduler.sigmas[step_index])
        churn = {**(churn or {}), "s_tmin": sigma, "s_tmax": sigma}
    with recipes.library_noise_drawn_in(noise_dtype) if noise_dtype else nullcontext():
        out = scheduler.step(model_output, scheduler.timesteps[step_index], sample, **(churn or {}),
                             generator=_generator(generator_seed), return_dict=return_dict)
    prev_sample, pred_original_sample = (out.prev_sample, out.pred_original_sample) if return_dict else out
    reply = {"prev_sample": prev_sample, "pred_original_sample": pred_original_sample, "kind": type(out).__name__,
             "step_index_after": scheduler.step_index}
    return reply if return_dict else {**reply, "length": len(out)}


def set_timesteps_again(solution, config, num_inference_steps, begin_index, sample, model_output):
    """A scheduler used once (set_begin_index, scale_model_input and a step), then set_timesteps again, as a
    pipeline's next call does: scale_model_input and a step from the first timestep, start over."""
    scheduler = _scheduler(solution, config, num_inference_steps)
    scheduler.set_begin_index(begin_index)
    scheduler.scale_model_input(sample, scheduler.timesteps[begin_index])
    scheduler.step(model_output, scheduler.timesteps[begin_index], sample)
    scheduler.set_timesteps(num_inference_steps)
    scaled = scheduler.scale_model_input(sample, scheduler.timesteps[0])
    return {"scaled": scaled, "prev_sample": scheduler.step(model_output, scheduler.timesteps[0], sample).prev_sample}


def denoising_loop(solution, config, num_inference_steps, unet_seed, latents, text_embeddings, churn=None,
                   generator_seed=None, dtype=torch.float32, noise_dtype=None):
    """A full loop with a tiny UNet (built in ``dtype``) as the model, started from noise scaled by
    init_noise_sigma."""
    unet = recipes.tiny_unet(unet_seed, dtype=dtype)
    scheduler = _scheduler(solution, config, num_inference_steps)
    with recipes.library_noise_drawn_in(noise_dtype) if noise_dtype else nullcontext():
        sample = recipes.unet_sampling_loop(unet, scheduler, latents, text_embeddings, **(churn or {}),
                                            generator=recipes.seeded_generator(generator_seed))
    return {"sample": sample}


def pipeline_images(solution, config, prompt, num_inference_steps, model_seed, latents, guidance_scale=5.0,
                    dtype=torch.float32):
    """A tiny StableDiffusionPipeline using the scheduler, from the given 16x16 latents (32x32 images)."""
    pipeline = recipes.tiny_sd_pipeline(model_seed, scheduler=solution.CustomEulerScheduler(**config))
    if dtype != torch.float32:
        pipeline.to(dtype=dtype)
    images = pipeline(prompt, num_inference_steps=num_inference_steps, height=32, width=32, latents=latents,
                      guidance_scale=guidance_scale, output_type="pt").images
    return {"images": images}
