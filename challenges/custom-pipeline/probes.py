"""Trusted helpers for custom-pipeline. Each runs with ``solution`` = the candidate's module (in the worker)
or the library itself (the oracle, in the grader), so both sides do exactly the same thing."""

import contextlib
import io
import json
import tempfile
from pathlib import Path
from types import SimpleNamespace

import torch
from diffusers import DDIMScheduler, EulerDiscreteScheduler, StableDiffusionPipeline

from pytest_diffchallenge import recipes

COMPONENTS = ("vae", "text_encoder", "tokenizer", "unet", "scheduler")
SIZE = 16  # pixels: 8x8 latents with the tiny VAE (its default: unet.config.sample_size 8 x vae_scale_factor 2)
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"}
SCHEDULERS = {
    "ddim": lambda: DDIMScheduler(steps_offset=1, clip_sample=False),
    "euler": lambda: EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                            steps_offset=1),
}


class _LibraryPipeline(StableDiffusionPipeline):
    """StableDiffusionPipeline (no safety checker) behind the statement's interface: the candidate's constructor,
    output_type "pt" by default, and ``(images,)`` for return_dict=False, where StableDiffusionPipeline appends
    its safety checker's nsfw flags (None without one). Saved and loaded under its own class name, as the
    candidate's pipeline is."""

    def __init__(self, vae, text_encoder, tokenizer, unet, scheduler, safety_checker=None, feature_extractor=None,
                 image_encoder=None, requires_safety_checker=False):
        super().__init__(vae, text_encoder, tokenizer, unet, scheduler, safety_checker, feature_extractor,
                         image_encoder, requires_safety_checker)

    @torch.no_grad()
    def __call__(self, prompt, *args, output_type="pt", return_dict=True, **kwargs):
        output = super().__call__(prompt, *args, output_type=output_type, return_dict=return_dict, **kwargs)
        return output if return_dict else output[:1]


ORACLE = SimpleNamespace(CustomPipeline=_LibraryPipeline)


def _models(model_seed):
    """Fresh seeded tiny models and tokenizer (the scheduler is added by name)."""
    built = recipes.tiny_sd_pipeline(model_seed)
    return {name: getattr(built, name) for name in COMPONENTS if name != "scheduler"}


# The components of the oracle's last pipeline: the grader's float64 truth run, which follows the oracle's run on
# the same inputs, takes them (inference leaves the models as built) instead of building them again.
_LAST_ORACLE_PARTS = {}


def _build(solution, model_seed, scheduler, dtype="float32"):
    """A pipeline of the candidate's class (or the oracle's) on fresh tiny components; ``dtype="float64"`` is the
    grader's truth run (every floating input and the models in float64)."""
    truth = dtype == "float64"
    parts = _LAST_ORACLE_PARTS.pop((model_seed, scheduler), None) if truth else None
    if parts is None:
        parts = _models(model_seed)
    if solution is ORACLE and not truth:
        _LAST_ORACLE_PARTS.clear()
        _LAST_ORACLE_PARTS[(model_seed, scheduler)] = parts
    pipeline = solution.CustomPipeline(**parts, scheduler=SCHEDULERS[scheduler]())
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(torch.float64) if truth else pipeline


def _call(pipeline, prompt, seed, dtype="float32", **options):
    """The pipeline's output; ``options`` are passed only when the test names them (the others take the
    pipeline's defaults), except the size: 16 px unless the test names one."""
    options = {"height": SIZE, "width": SIZE, **options}
    with recipes.library_noise_drawn_in(torch.float32) if dtype == "float64" else contextlib.nullcontext():
        return pipeline(prompt, generator=torch.Generator().manual_seed(seed), **options)


def generate(solution, model_seed, scheduler, prompt, seed, dtype="float32", **options):
    """Images (or latents, for output_type="latent") from a freshly built pipeline."""
    return {"images": _call(_build(solution, model_seed, scheduler, dtype), prompt, seed, dtype, **options).images}


def given_latents(solution, model_seed, scheduler, prompt, seed, latents_seed, dtype="float32", **options):
    """The initial latents passed in (one 4 x 8 x 8 per prompt), instead of drawn from the generator."""
    batch = 1 if isinstance(prompt, str) else len(prompt)
    latents = recipes.seeded_randn((batch, 4, SIZE // 2, SIZE // 2), latents_seed, dtype=getattr(torch, dtype))
    pipeline = _build(solution, model_seed, scheduler, dtype)
    return {"images": _call(pipeline, prompt, seed, dtype, latents=latents, **options).images}


def without_guidance(solution, model_seed, scheduler, prompt, seed, num_inference_steps, dtype="float32"):
    """One pipeline, called at guidance_scale 1 and then at 0.5: neither guides."""
    pipeline = _build(solution, model_seed, scheduler, dtype)
    return {f"images_at_{name}": _call(pipeline, prompt, seed, dtype, num_inference_steps=num_inference_steps,
                                       guidance_scale=scale).images
            for name, scale in (("one", 1.0), ("half", 0.5))}


def outputs(solution, model_seed, scheduler, prompt, seed, num_inference_steps, output_type, dtype="float32"):
    """One pipeline, called with ``output_type`` (the test's "latent", a string made at run time as a caller's
    is, not this module's constant) at 16 px, then with return_dict=False at 24 x 16 px: the tuple ``(images,)``."""
    pipeline = _build(solution, model_seed, scheduler, dtype)
    latents = _call(pipeline, prompt, seed, dtype, num_inference_steps=num_inference_steps,
                    output_type=output_type).images
    output = _call(pipeline, prompt, seed, dtype, num_inference_steps=num_inference_steps, height=24, width=16,
                   return_dict=False)
    return {"latents": latents, "images": output[0], "is_tuple": isinstance(output, tuple), "length": len(output)}


def defaults(solution, model_seed, prompt, seed, num_inference_steps, dtype="float32"):
    """Nothing named but the prompt and the generator: 50 steps, guidance 7.5, 16 px. That run stops at the end
    of its first step (a callback raises): its first timestep, how many there are, and the latents after it.
    Then, with only ``num_inference_steps`` named: 16 px images, output_type "pt", an output with .images."""
    pipeline = _build(solution, model_seed, "ddim", dtype)
    seen = {}

    class FirstStepDone(Exception):
        pass

    def stop(pipe, step_index, timestep, callback_kwargs):
        seen.update(first_timestep=int(timestep), timesteps=len(pipe.scheduler.timesteps),
                    first_step_latents=callback_kwargs["latents"])
        raise FirstStepDone

    with recipes.library_noise_drawn_in(torch.float32) if dtype == "float64" else contextlib.nullcontext():
        try:
            pipeline(prompt, generator=torch.Generator().manual_seed(seed), callback_on_step_end=stop)
        except FirstStepDone:
            pass
        output = pipeline(prompt, num_inference_steps=num_inference_steps,
                          generator=torch.Generator().manual_seed(seed))
    return {**seen, "images": output.images}


def callback(solution, model_seed, scheduler, prompt, seed, num_inference_steps, edit_step, factor,
             others="kwargs", dtype="float32"):
    """A step-end callback that records its calls and, at ``edit_step``, rescales the latents it returns; at the
    other steps it returns its kwargs (``others="kwargs"``) or an empty dict (``"empty"``: the latents stay)."""
    calls = []

    def on_step_end(pipeline, step_index, timestep, callback_kwargs):
        calls.append([step_index, int(timestep), sorted(callback_kwargs)])
        if step_index == edit_step:
            return {"latents": callback_kwargs["latents"] * factor}
        return callback_kwargs if others == "kwargs" else {}

    images = _call(_build(solution, model_seed, scheduler, dtype), prompt, seed, dtype,
                   num_inference_steps=num_inference_steps, callback_on_step_end=on_step_end).images
    return {"images": images, "calls": calls}


def progress_bar(solution, model_seed, prompt, num_inference_steps):
    """What the pipeline's progress bar wrote under set_progress_bar_config: enabled, a bar that reached its
    total (``n/n``); then disabled, nothing."""
    pipeline = _build(solution, model_seed, "ddim")
    result = {}
    for enabled in (True, False):
        written = io.StringIO()
        pipeline.set_progress_bar_config(file=written, disable=not enabled, ascii=True, mininterval=0)
        _call(pipeline, prompt, 0, num_inference_steps=num_inference_steps, guidance_scale=1.0)
        text = written.getvalue()
        key = "enabled" if enabled else "disabled"
        result.update({f"{key}_finished_bars": text.count(f"{num_inference_steps}/{num_inference_steps} "),
                       f"{key}_wrote": bool(text)})
    return result


def round_trip(solution, model_seed, scheduler, prompt, seed, num_inference_steps, dtype="float32"):
    """save_pretrained, then from_pretrained (local files, safetensors only) into a new pipeline, and run it.
    The truth run (float64) makes the images the saved pipeline should make, without saving it."""
    if dtype == "float64":
        pipeline = _build(solution, model_seed, scheduler, dtype)
        return {"images": _call(pipeline, prompt, seed, dtype, num_inference_steps=num_inference_steps).images}
    with tempfile.TemporaryDirectory() as folder:
        _build(solution, model_seed, scheduler).save_pretrained(folder)
        index = json.loads((Path(folder) / "model_index.json").read_text())
        files = [path for path in Path(folder).rglob("*") if path.is_file()]
        loaded = solution.CustomPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    loaded.set_progress_bar_config(disable=True)
    images = _call(loaded, prompt, seed, num_inference_steps=num_inference_steps).images
    return {"images": images,
            "components": {name: index.get(name) for name in COMPONENTS},
            "pickle_files": sorted(path.name for path in files if path.suffix in PICKLE_SUFFIXES),
            "safetensors_files": sum(path.suffix == ".safetensors" for path in files),
            "loaded_class_is_the_saved_one": type(loaded).__name__ == index["_class_name"]}


def in_float64(solution, model_seed, prompt, seed, num_inference_steps):
    """``.to(torch.float64)`` moves every registered model; the whole run then happens in fp64."""
    pipeline = solution.CustomPipeline(**_models(model_seed), scheduler=SCHEDULERS["euler"]())
    pipeline.set_progress_bar_config(disable=True)
    pipeline = pipeline.to(torch.float64)
    images = _call(pipeline, prompt, seed, num_inference_steps=num_inference_steps).images
    return {"images": images, "pipeline_dtype": str(pipeline.dtype), "device": str(pipeline.device)}
