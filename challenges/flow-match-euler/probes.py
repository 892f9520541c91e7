"""Trusted helpers for flow-match-euler. Each runs with ``solution`` = the candidate's module (in the worker)
or the library itself (the oracle, in the grader), so both sides do exactly the same thing."""

from types import SimpleNamespace

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel
from diffusers.pipelines.flux.pipeline_flux import calculate_shift

from pytest_diffchallenge import recipes

ORACLE = SimpleNamespace(CustomFlowMatchEulerDiscreteScheduler=FlowMatchEulerDiscreteScheduler,
                         calculate_shift=calculate_shift)
SHAPE = (2, 4, 8, 8)
SD3_CONFIG = dict(shift=3.0)  # Stable Diffusion 3's scheduler config
FLUX_CONFIG = dict(use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
                   max_image_seq_len=4096)  # Flux.1's


def random_inputs(seed, dtype=torch.float32):
    return dict(sample=recipes.seeded_randn(SHAPE, seed, dtype),
                model_output=recipes.seeded_randn(SHAPE, seed + 1, dtype))


def flux_sigmas(num_inference_steps):
    """What the Flux pipeline passes to set_timesteps (as a list here: inputs cross the process boundary as JSON)."""
    return np.linspace(1.0, 1 / num_inference_steps, num_inference_steps).tolist()


def random_sigmas(seed, count):
    """Any decreasing sigmas in (0, 1], as a list."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(count, generator=generator, dtype=torch.float64) * 0.98 + 0.02).sort(descending=True)[0].tolist()


def _scheduler(solution, config, num_inference_steps, sigmas=None, mu=None, sigmas_as_array=False, **options):
    """``options``: set_timesteps' ``device``, passed only when a test names it."""
    scheduler = solution.CustomFlowMatchEulerDiscreteScheduler(**config)
    if sigmas is None:
        scheduler.set_timesteps(num_inference_steps, mu=mu, **options)
    else:
        scheduler.set_timesteps(sigmas=np.array(sigmas) if sigmas_as_array else sigmas, mu=mu, **options)
    return scheduler


def shift(solution, image_seq_len, **options):
    return {"mu": torch.tensor(solution.calculate_shift(image_seq_len, **options), dtype=torch.float64)}


def time_shift(solution, config, mu, sigma, t):
    return {"shifted": solution.CustomFlowMatchEulerDiscreteScheduler(**config).time_shift(mu, sigma, t)}


def schedule(solution, config, num_inference_steps=None, sigmas=None, mu=None, sigmas_as_array=False,
             set_device=None):
    """``sigmas_as_array``: pass the sigmas as a numpy array, as the Flux pipeline does; ``set_device``: pass
    set_timesteps a ``device``."""
    options = {} if set_device is None else {"device": set_device}
    scheduler = _scheduler(solution, config, num_inference_steps, sigmas, mu, sigmas_as_array, **options)
    return {"timesteps": scheduler.timesteps, "sigmas": scheduler.sigmas,
            "num_inference_steps": scheduler.num_inference_steps,
            "devices": [str(scheduler.timesteps.device), str(scheduler.sigmas.device)]}


def missing_mu(solution, config, num_inference_steps):
    """set_timesteps without mu on a dynamic-shifting scheduler: the name of the ValueError's class, or None."""
    scheduler = solution.CustomFlowMatchEulerDiscreteScheduler(**config)
    try:
        scheduler.set_timesteps(num_inference_steps)
    except ValueError as error:
        return {"raised": type(error).__name__}
    return {"raised": None}


def scale_noise(solution, config, num_inference_steps, step_indices, sample, noise, mu=None, begin_index=None,
                steps_before=0):
    """The forward process at ``timesteps[step_indices]``. With ``begin_index``, set_begin_index first (as img2img
    does); with ``steps_before`` too, that many steps (velocity = noise) first (as inpainting does)."""
    scheduler = _scheduler(solution, config, num_inference_steps, mu=mu)
    if begin_index is not None:
        scheduler.set_begin_index(begin_index)
        for index in range(begin_index, begin_index + steps_before):
            scheduler.step(noise, scheduler.timesteps[index], sample)
    return {"noisy": scheduler.scale_noise(sample, scheduler.timesteps[step_indices], noise),
            "step_index": -1 if scheduler.step_index is None else scheduler.step_index}


def set_timesteps_again(solution, config, num_inference_steps, begin_index, step_indices, sample, noise, mu=None):
    """A scheduler used once (set_begin_index, a step), then set_timesteps again, as a pipeline's next call does:
    scale_noise at ``timesteps[step_indices]``, then a step from the first timestep, start over."""
    scheduler = _scheduler(solution, config, num_inference_steps, mu=mu)
    scheduler.set_begin_index(begin_index)
    scheduler.step(noise, scheduler.timesteps[begin_index], sample)
    scheduler.set_timesteps(num_inference_steps, mu=mu)
    noisy = scheduler.scale_noise(sample, scheduler.timesteps[step_indices], noise)
    return {"noisy": noisy, "prev_sample": scheduler.step(noise, scheduler.timesteps[0], sample).prev_sample}


def step(solution, config, num_inference_steps, step_index, sample, model_output, mu=None, generator_seed=None,
         **step_options):
    """One step from ``timesteps[step_index]``; ``step_options``: return_dict, s_churn, s_tmin, s_tmax, s_noise,
    passed only when a test names them (the defaults are graded too)."""
    scheduler = _scheduler(solution, config, num_inference_steps, mu=mu)
    out = scheduler.step(model_output, scheduler.timesteps[step_index], sample,
                         generator=recipes.seeded_generator(generator_seed), **step_options)
    return {"prev_sample": out[0] if isinstance(out, tuple) else out.prev_sample, "kind": type(out).__name__,
            "step_index_after": scheduler.step_index}


def tiny_sd3_transformer(seed):
    torch.manual_seed(seed)
    return SD3Transformer2DModel(sample_size=8, patch_size=1, in_channels=4, num_layers=1, attention_head_dim=8,
                                 num_attention_heads=4, caption_projection_dim=32, joint_attention_dim=32,
                                 pooled_projection_dim=64, out_channels=4).eval()


def denoising_loop(solution, config, num_inference_steps, model_seed, latents, text_embeddings, pooled,
                   flux_schedule=False, generator_seed=None):
    """A full loop with a tiny SD3 transformer predicting the velocity; with ``flux_schedule`` the scheduler
    gets Flux's sigmas and a mu computed by the solution's calculate_shift from the latent token count."""
    model = tiny_sd3_transformer(model_seed)
    if flux_schedule:
        mu = solution.calculate_shift(latents.shape[-2] * latents.shape[-1] * 64)  # as if a 64x upscaled image
        scheduler = _scheduler(solution, config, num_inference_steps, flux_sigmas(num_inference_steps), mu)
    else:
        scheduler = _scheduler(solution, config, num_inference_steps)
    generator = recipes.seeded_generator(generator_seed)
    sample = latents
    with torch.no_grad():
        for timestep in scheduler.timesteps:
            velocity = model(sample, encoder_hidden_states=text_embeddings, pooled_projections=pooled,
                             timestep=timestep.expand(sample.shape[0])).sample
            sample = scheduler.step(velocity, timestep, sample, generator=generator).prev_sample
    return {"sample": sample}
