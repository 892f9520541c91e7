"""Trusted helpers for cfg-sampling-loop. Each runs with ``solution`` = the candidate's module (in the worker)
or the library itself (the oracle, in the grader), so both sides do exactly the same thing."""

from types import SimpleNamespace

import torch
from diffusers import DDIMScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg

from pytest_diffchallenge import recipes

ORACLE = SimpleNamespace(
    rescale_noise_cfg=rescale_noise_cfg,
    generate=lambda pipeline, prompt, **options: pipeline(prompt, output_type="latent", **options).images,
)
SD_BETAS = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1)
SCHEDULERS = {
    "ddim": lambda spacing: DDIMScheduler(**SD_BETAS, clip_sample=False, set_alpha_to_one=False,
                                          timestep_spacing=spacing),
    # Euler's init_noise_sigma (sigma_max, 14.6) and scale_model_input (1 / sqrt(sigma^2 + 1)) both matter
    "euler": lambda spacing: EulerDiscreteScheduler(**SD_BETAS, timestep_spacing=spacing),
    # draws fresh noise at every step: the generator must reach the scheduler
    "euler-ancestral": lambda spacing: EulerAncestralDiscreteScheduler(**SD_BETAS, timestep_spacing=spacing),
}


def rescale(solution, noise_cfg, noise_pred_text, guidance_rescale):
    return {"noise_cfg": solution.rescale_noise_cfg(noise_cfg, noise_pred_text, guidance_rescale=guidance_rescale)}


def generate(solution, scheduler, model_seed, prompt, seed, spacing="leading", **options):
    """The latents after the loop, for a tiny StableDiffusionPipeline with the named scheduler; ``options``
    (negative_prompt, num_inference_steps, guidance_scale, guidance_rescale, num_images_per_prompt, eta,
    height, width) are passed only when the test names them."""
    pipeline = recipes.tiny_sd_pipeline(model_seed, scheduler=SCHEDULERS[scheduler](spacing))
    with torch.no_grad():
        latents = solution.generate(pipeline, prompt, generator=torch.Generator().manual_seed(seed),
                                    **{"height": 32, "width": 32, "num_inference_steps": 4, **options})
    return {"latents": latents}
