"""Trusted helpers for custom-pipeline. Each runs with ``solution`` = the candidate's module (in the worker)
or the library itself (the oracle, in the grader), so both sides do exactly the same thing."""

import io
import json
import tempfile
from pathlib import Path
from types import SimpleNamespace

import torch
from diffusers import DDIMScheduler, EulerDiscreteScheduler, StableDiffusionPipeline

from pytest_diffchallenge import recipes

COMPONENTS = ("vae", "text_encoder", "tokenizer", "unet", "scheduler")
SIZE = 16  # pixels: 8x8 latents with the tiny VAE
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"}
SCHEDULERS = {
    "ddim": lambda: DDIMScheduler(steps_offset=1, clip_sample=False),
    "euler": lambda: EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                            steps_offset=1),
}


class _LibraryPipeline:
    """StableDiffusionPipeline behind the candidate's constructor and loader (no safety checker)."""

    def __new__(cls, vae, text_encoder, tokenizer, unet, scheduler):
        return StableDiffusionPipeline(vae, text_encoder, tokenizer, unet, scheduler, safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)

    @staticmethod
    def from_pretrained(path, **kwargs):
        return StableDiffusionPipeline.from_pretrained(path, **kwargs)


ORACLE = SimpleNamespace(CustomPipeline=_LibraryPipeline)


def _build(solution, model_seed, scheduler):
    parts = recipes.tiny_sd_pipeline(model_seed, scheduler=SCHEDULERS[scheduler]())
    pipeline = solution.CustomPipeline(**{name: getattr(parts, name) for name in COMPONENTS})
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def _generate(pipeline, prompt, seed, num_inference_steps, **options):
    return pipeline(prompt, num_inference_steps=num_inference_steps, height=SIZE, width=SIZE,
                    generator=torch.Generator().manual_seed(seed), output_type="pt", **options).images


def generate(solution, model_seed, scheduler, prompt, seed, num_inference_steps, **options):
    """Images from a freshly built pipeline."""
    return {"images": _generate(_build(solution, model_seed, scheduler), prompt, seed, num_inference_steps, **options)}


def callback(solution, model_seed, scheduler, prompt, seed, num_inference_steps, edit_step, factor):
    """A step-end callback that records its calls and, at ``edit_step``, rescales the latents it returns."""
    calls = []

    def on_step_end(pipeline, step_index, timestep, callback_kwargs):
        calls.append([step_index, int(timestep), sorted(callback_kwargs)])
        if step_index == edit_step:
            return {"latents": callback_kwargs["latents"] * factor}
        return callback_kwargs

    images = _generate(_build(solution, model_seed, scheduler), prompt, seed, num_inference_steps,
                       callback_on_step_end=on_step_end)
    return {"images": images, "calls": calls}


def progress_bar(solution, model_seed, prompt, num_inference_steps):
    """What the pipeline's progress bar wrote: a bar that reached its total (``n/n``) once per call."""
    pipeline = _build(solution, model_seed, "ddim")
    written = io.StringIO()
    pipeline.set_progress_bar_config(file=written, disable=False, ascii=True, mininterval=0)
    _generate(pipeline, prompt, 0, num_inference_steps)
    text = written.getvalue()
    return {"finished_bars": text.count(f"{num_inference_steps}/{num_inference_steps} ")}


def round_trip(solution, model_seed, scheduler, prompt, seed, num_inference_steps):
    """save_pretrained, then from_pretrained (local files, safetensors only) into a new pipeline, and run it."""
    with tempfile.TemporaryDirectory() as folder:
        _build(solution, model_seed, scheduler).save_pretrained(folder)
        index = json.loads((Path(folder) / "model_index.json").read_text())
        files = [path for path in Path(folder).rglob("*") if path.is_file()]
        loaded = solution.CustomPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    loaded.set_progress_bar_config(disable=True)
    return {"images": _generate(loaded, prompt, seed, num_inference_steps),
            "components": {name: index.get(name) for name in COMPONENTS},
            "pickle_files": sorted(path.name for path in files if path.suffix in PICKLE_SUFFIXES),
            "safetensors_files": sum(path.suffix == ".safetensors" for path in files),
            "loaded_class_is_the_saved_one": type(loaded).__name__ == index["_class_name"]}


def in_float64(solution, model_seed, prompt, seed, num_inference_steps):
    """``.to(torch.float64)`` moves every registered model; the whole run then happens in fp64."""
    pipeline = _build(solution, model_seed, "euler").to(torch.float64)
    images = _generate(pipeline, prompt, seed, num_inference_steps)
    return {"images": images, "pipeline_dtype": str(pipeline.dtype), "device": str(pipeline.device)}
