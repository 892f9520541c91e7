"""Trusted helpers for dpm-solver-2m. Each runs with ``solution`` = the candidate's module (in the worker) or
the library itself (the oracle, in the grader), so both sides do exactly the same thing.

``dtype`` parameters are for the float64 truth run (``equivalence.check_against_truth``): only the grader
passes them, to build the model in float64; the candidate's run always uses the defaults."""

from types import SimpleNamespace

import torch
from diffusers import DPMSolverMultistepScheduler

from pytest_diffchallenge import recipes

ORACLE = SimpleNamespace(CustomDPMSolverMultistepScheduler=DPMSolverMultistepScheduler)
SHAPE = (2, 4, 8, 8)
# Stable Diffusion's training schedule with DPM-Solver++(2M), the "DPM++ 2M" of most UIs
BASE_CONFIG = dict(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                   algorithm_type="dpmsolver++", solver_order=2, solver_type="midpoint", steps_offset=1)


def random_model_outputs(seed, num_inference_steps, dtype=torch.float32, sample_dtype=None):
    """A start sample and one model output per step: the solver is graded without a model in the way."""
    return dict(sample=recipes.seeded_randn(SHAPE, seed, sample_dtype or dtype),
                model_outputs=recipes.seeded_randn((num_inference_steps, *SHAPE), seed + 1, dtype))


def _run(scheduler, sample, model_outputs, begin_index, return_dict):
    timesteps = scheduler.timesteps[begin_index:]
    if begin_index:
        scheduler.set_begin_index(begin_index)  # what img2img pipelines do: start part-way down the schedule
    samples, kind, length = [], None, None
    # model_outputs may cover only the first steps (test_first_step_is_first_order): stop where they end
    for timestep, model_output in zip(timesteps, model_outputs, strict=False):
        out = scheduler.step(model_output, timestep, sample, return_dict=return_dict)
        kind, length = type(out).__name__, None if return_dict else len(out)
        sample = out.prev_sample if return_dict else out[0]
        samples.append(sample)
    return {"samples": torch.stack(samples), "kind": kind, "length": length, "step_index_after": scheduler.step_index}


def trajectory(solution, config, num_inference_steps, sample, model_outputs, begin_index=0, return_dict=True):
    """Every prev_sample of a run fed with the given model outputs (one per step from ``begin_index``)."""
    scheduler = solution.CustomDPMSolverMultistepScheduler(**config)
    scheduler.set_timesteps(num_inference_steps)
    return _run(scheduler, sample, model_outputs, begin_index, return_dict)


def second_run(solution, config, num_inference_steps, sample, model_outputs):
    """Two runs on one scheduler: set_timesteps must start the second from an empty history."""
    scheduler = solution.CustomDPMSolverMultistepScheduler(**config)
    scheduler.set_timesteps(num_inference_steps)
    _run(scheduler, -sample, model_outputs.flip(0), 0, True)
    scheduler.set_timesteps(num_inference_steps)
    return _run(scheduler, sample, model_outputs, 0, True)


def denoising_loop(solution, config, num_inference_steps, unet_seed, latents, text_embeddings, dtype=torch.float32):
    """A full loop with a tiny UNet (built in ``dtype``) as the model."""
    unet = recipes.tiny_unet(unet_seed, dtype=dtype)
    scheduler = solution.CustomDPMSolverMultistepScheduler(**config)
    scheduler.set_timesteps(num_inference_steps)
    return {"sample": recipes.unet_sampling_loop(unet, scheduler, latents, text_embeddings)}
