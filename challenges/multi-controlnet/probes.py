"""Trusted helpers for multi-controlnet. Each runs with ``solution`` = the candidate's module (in the worker)
or the library itself (the oracle, in the grader), so both sides do exactly the same thing. Options a test
leaves out are left out on both sides, so that the library's own defaults apply.

``dtype`` is for the float64 truth run (``equivalence.check_against_truth``): only the grader passes it."""

from types import SimpleNamespace

import torch
from diffusers import DDIMScheduler, EulerDiscreteScheduler, MultiControlNetModel, StableDiffusionControlNetPipeline

from pytest_diffchallenge import recipes

TOKENS = 7
NETS = 2
SCHEDULERS = {
    "ddim": lambda: DDIMScheduler(steps_offset=1, clip_sample=False),
    "euler": lambda: EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
}


def _library_residuals(controlnets, sample, timestep, encoder_hidden_states, control_images, conditioning_scales,
                       **options):
    return MultiControlNetModel(controlnets)(sample, timestep, encoder_hidden_states, control_images,
                                             conditioning_scales, return_dict=False, **options)


def _pipeline_loop(unet, controlnets, scheduler, latents, prompt_embeds, negative_prompt_embeds, control_images,
                   num_inference_steps, **options):
    """StableDiffusionControlNetPipeline given a list of ControlNets, from embeddings to latents."""
    pipeline = StableDiffusionControlNetPipeline(
        vae=None, text_encoder=None, tokenizer=None, unet=unet, controlnet=controlnets, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline(prompt_embeds=prompt_embeds, negative_prompt_embeds=negative_prompt_embeds, image=control_images,
                    latents=latents, num_inference_steps=num_inference_steps, output_type="latent",
                    **options).images


ORACLE = SimpleNamespace(multi_controlnet_residuals=_library_residuals,
                         multi_controlnet_denoising_loop=_pipeline_loop)


DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _controlnets(model_seed, dtype=torch.float32):
    nets = [recipes.tiny_controlnet(model_seed + 1 + index) for index in range(NETS)]
    return nets if dtype == torch.float32 else [net.to(dtype) for net in nets]


def _control_images(seed, batch, size, width):
    """One image in [0, 1] per net (pixels: twice the latent size)."""
    return [recipes.seeded_randn((batch, 3, size, width), seed + 10 + index).sigmoid() for index in range(NETS)]


# Sizes in pixels, ``size`` x ``width`` (``width`` defaults to ``size``), each a multiple of 8: the pipeline
# resizes its control images to a multiple of its (VAE-less) scale factor, 8. Latents are half that size.
def residual_inputs(seed, batch=2, size=16, width=None):
    width = width or size
    return dict(sample=recipes.seeded_randn((batch, 4, size // 2, width // 2), seed),
                encoder_hidden_states=recipes.seeded_randn((batch, TOKENS, recipes.TEXT_DIM), seed + 1),
                control_images=_control_images(seed, batch, size, width))


def loop_inputs(seed, batch=1, size=16, width=None):
    width = width or size
    return dict(latents=recipes.seeded_randn((batch, 4, size // 2, width // 2), seed),
                prompt_embeds=recipes.seeded_randn((batch, TOKENS, recipes.TEXT_DIM), seed + 1),
                negative_prompt_embeds=recipes.seeded_randn((batch, TOKENS, recipes.TEXT_DIM), seed + 2),
                control_images=_control_images(seed, batch, size, width))


@torch.no_grad()
def residuals(solution, model_seed, timestep, sample, encoder_hidden_states, control_images, conditioning_scales,
              **options):
    """One step of the combined nets: the summed down-block residuals and the mid-block residual."""
    down, mid = solution.multi_controlnet_residuals(_controlnets(model_seed), sample, timestep,
                                                    encoder_hidden_states, control_images, conditioning_scales,
                                                    **options)
    # One key per tensor: the grader compares tensors, not lists of them.
    return {**{f"down_block_res_sample_{index}": sample for index, sample in enumerate(down)},
            "mid_block_res_sample": mid}


def denoising_loop(solution, model_seed, scheduler, latents, prompt_embeds, negative_prompt_embeds, control_images,
                   dtype="float32", **options):
    """The candidate's loop (or the pipeline) with a tiny UNet and two tiny ControlNets; returns the latents.
    ``dtype="float64"``: the grader's truth run, the same models (built in fp32) cast to float64."""
    dtype = DTYPES[dtype]
    latents = solution.multi_controlnet_denoising_loop(
        recipes.tiny_unet(model_seed, dtype=dtype), _controlnets(model_seed, dtype), SCHEDULERS[scheduler](), latents,
        prompt_embeds, negative_prompt_embeds, control_images, **options)
    return {"latents": latents}
