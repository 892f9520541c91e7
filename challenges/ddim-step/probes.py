"""Trusted helpers for ddim-step. Each runs with ``solution`` = the candidate's module (in the worker) or
the library itself (the oracle, in the grader), so both sides do exactly the same thing.

``dtype`` parameters are for the float64 truth run (``equivalence.check_against_truth``): only the grader
passes them, to build the models in float64; the candidate's run always uses the defaults."""

from types import SimpleNamespace

import torch
from diffusers import DDIMScheduler
from diffusers.utils.torch_utils import randn_tensor

from pytest_diffchallenge import recipes

ORACLE = SimpleNamespace(CustomDDIMScheduler=DDIMScheduler)
SHAPE = (2, 4, 8, 8)
NON_SQUARE = (3, 4, 6, 10)  # batch of 3, 6x10 latents: nothing may assume a square or a batch of 2
BASE_CONFIG = dict(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                   clip_sample=False, set_alpha_to_one=False, steps_offset=1)


def random_inputs(seed, dtype=torch.float32, scale=1.0, shape=SHAPE):
    return dict(sample=recipes.seeded_randn(shape, seed, dtype, scale),
                model_output=recipes.seeded_randn(shape, seed + 1, dtype, scale))


def _scheduler(solution, config, num_inference_steps):
    scheduler = solution.CustomDDIMScheduler(**config)
    scheduler.set_timesteps(num_inference_steps)
    return scheduler


def _generator(seed):
    """None, one CPU generator (an int seed), or a list of them, one per batch element (a list of seeds)."""
    if isinstance(seed, list):
        return [recipes.seeded_generator(s) for s in seed]
    return recipes.seeded_generator(seed)


def step(solution, config, num_inference_steps, step_index, sample, model_output, eta=None,
         use_clipped_model_output=None, variance_noise=None, generator_seed=None, return_dict=True):
    """``eta`` and ``use_clipped_model_output`` are passed only when a test names them: their defaults are graded."""
    scheduler = _scheduler(solution, config, num_inference_steps)
    timestep = scheduler.timesteps[step_index]
    options = {name: value for name, value in (("eta", eta), ("use_clipped_model_output", use_clipped_model_output))
               if value is not None}
    out = scheduler.step(model_output, timestep, sample, generator=_generator(generator_seed),
                         variance_noise=variance_noise, return_dict=return_dict, **options)
    if return_dict:
        return {"prev_sample": out.prev_sample, "pred_original_sample": out.pred_original_sample,
                "kind": type(out).__name__}
    return {"prev_sample": out[0], "pred_original_sample": out[1], "kind": type(out).__name__,
            "length": len(out)}


def denoising_loop(solution, config, num_inference_steps, unet_seed, latents, text_embeddings, eta=0.0,
                   generator_seed=None, dtype=torch.float32):
    """A full loop with a tiny UNet as the model, each step's noise drawn with one generator.

    The float64 truth run (``dtype=torch.float64``) draws each step's noise from the generator in fp32, as the
    fp32 run's step draws it, and passes it as ``variance_noise``: the same noise, not a float64 draw."""
    unet = recipes.tiny_unet(unet_seed, dtype=dtype)
    scheduler = _scheduler(solution, config, num_inference_steps)
    generator = recipes.seeded_generator(generator_seed)
    sample = latents * scheduler.init_noise_sigma
    with torch.no_grad():
        for timestep in scheduler.timesteps:
            model_input = scheduler.scale_model_input(sample, timestep)
            model_output = unet(model_input, timestep, encoder_hidden_states=text_embeddings).sample
            if dtype == torch.float32:
                noise = dict(generator=generator)
            else:
                noise = dict(variance_noise=randn_tensor(model_output.shape, generator=generator,
                                                         dtype=torch.float32).to(dtype))
            sample = scheduler.step(model_output, timestep, sample, eta=eta, **noise).prev_sample
    return {"sample": sample}


def pipeline_images(solution, config, prompt, num_inference_steps, model_seed, latents, guidance_scale=5.0,
                    dtype=torch.float32):
    """A tiny StableDiffusionPipeline using the scheduler, from the given 16x16 latents (32x32 images)."""
    pipeline = recipes.tiny_sd_pipeline(model_seed, scheduler=solution.CustomDDIMScheduler(**config))
    if dtype != torch.float32:
        pipeline.to(dtype=dtype)
    images = pipeline(prompt, num_inference_steps=num_inference_steps, height=32, width=32, latents=latents,
                      guidance_scale=guidance_scale, output_type="pt").images
    return {"images": images}
