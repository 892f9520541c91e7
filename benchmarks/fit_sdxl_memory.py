"""fit-sdxl-8gb's strategies side by side: peak tensor memory and time of one whole generation.

    .venv/bin/python benchmarks/fit_sdxl_memory.py [--device cuda] [--runs N]

On the CPU: the challenge's scale model in float32 at 64x64, the peak by the kit's tensor accounting. With
``--device cuda``: SDXL base's real architecture in float16 at 1024x1024, the peak from the CUDA allocator. Each
strategy builds its components with the challenge's ``load`` inside the measured call, as the grader does:
- ``plain``: the library's pipeline with every model loaded at once;
- ``reference``: the text encoders dropped after encoding (solutions/fit-sdxl-8gb);
- ``one at a time``: each model loaded just before its stage and dropped after it (whole-model offload's pattern).
diffusers' own ``enable_model_cpu_offload`` needs an accelerator to offload from; its H200 figures are in
``challenges/fit-sdxl-8gb/README.md``. On a GPU the plain pipeline runs first and uncapped, the others under the
emulated card.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

import torch

from diffchallenge.bank.challenges import get_challenge
from diffchallenge.bank.mutants import reference_dir
from pytest_diffchallenge.units import format_size
from pytest_diffchallenge.worker.memory import measure_peak, warm_up
from pytest_diffchallenge.worker.serve import load_module

PROMPT = "an astronaut riding a horse"


def one_at_a_time(load, prompt, *, height, width, num_inference_steps, guidance_scale, generator):
    from diffusers import StableDiffusionXLPipeline

    with torch.no_grad():
        pipeline = StableDiffusionXLPipeline(
            vae=None, unet=None, text_encoder=load("text_encoder"), text_encoder_2=load("text_encoder_2"),
            tokenizer=load("tokenizer"), tokenizer_2=load("tokenizer_2"), scheduler=load("scheduler"))
        embeds = pipeline.encode_prompt(prompt, do_classifier_free_guidance=guidance_scale > 1)
        del pipeline
        gc.collect()
        pipeline = StableDiffusionXLPipeline(vae=None, unet=load("unet"), text_encoder=None, text_encoder_2=None,
                                             tokenizer=None, tokenizer_2=None, scheduler=load("scheduler"))
        pipeline.set_progress_bar_config(disable=True)
        latents = pipeline(prompt_embeds=embeds[0], negative_prompt_embeds=embeds[1], pooled_prompt_embeds=embeds[2],
                           negative_pooled_prompt_embeds=embeds[3], height=height, width=width,
                           num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, generator=generator,
                           output_type="latent").images
        del pipeline
        gc.collect()
        vae = load("vae")
        pipeline = StableDiffusionXLPipeline(vae=vae, unet=None, text_encoder=None, text_encoder_2=None,
                                             tokenizer=None, tokenizer_2=None, scheduler=load("scheduler"))
        image = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor).sample
        return pipeline.image_processor.postprocess(image, output_type="pt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    challenge = get_challenge("fit-sdxl-8gb")
    probes = load_module("fit_sdxl_probes", str(challenge.probes))
    reference = load_module("fit_sdxl_reference", str(reference_dir(challenge) / "solution.py"))
    strategies = {"plain": probes.ORACLE, "reference": reference, "one at a time": SimpleSolution(one_at_a_time)}
    torch.set_num_threads(1)
    warm_up()
    size = probes.scale(args.device)["size"]
    print(f"{args.device}: {size}x{size}, {probes.STEPS} steps, guidance 5, {args.runs} runs each")
    print(f"{'strategy':<16}{'peak':>12}{'share of plain':>16}{'median s':>10}")
    plain_peak = 0
    for name, solution in strategies.items():
        peaks, seconds = [], []
        for run in range(args.runs + 1):  # the first run warms up
            call = probes.generate(solution, prompt=PROMPT, data_seed=run, guidance_scale=5.0,
                                   device=args.device)
            started = time.perf_counter()
            with measure_peak(args.device) as meter:
                call()
            if run:
                peaks.append(meter.peak_bytes)
                seconds.append(time.perf_counter() - started)
        peak = max(peaks)
        plain_peak = plain_peak or peak
        print(f"{name:<16}{format_size(peak):>12}{peak / plain_peak:>16.3f}{statistics.median(seconds):>10.3f}")
    ceiling = challenge.meta.limits.cuda_tensor_memory if args.device.startswith("cuda") \
        else challenge.meta.limits.tensor_memory
    print(f"ceiling {format_size(ceiling or 0)}: {(ceiling or 0) / plain_peak:.3f} of the plain pipeline's peak")


class SimpleSolution:
    """A strategy as the probe expects a solution module: something with ``generate``."""

    def __init__(self, generate):
        self.generate = generate


if __name__ == "__main__":
    main()
