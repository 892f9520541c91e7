"""Trusted helpers for mixed-precision-inference. Each runs with ``solution`` = the candidate's module (in the
worker) or ORACLE (in the grader): both sides build the same tiny seeded models in float32 and hand them over.

``dtype`` names the precision of the run: "float16" or "bfloat16" for a judged run, "float64" for the grader's
truth run (``equivalence.check_against_truth``). A stage that raises its module's NonFiniteError reports the
stage it named instead of a tensor."""

from types import SimpleNamespace

import torch

from pytest_diffchallenge import recipes

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}
TOKENS = 7
# Multiplies the tiny VAE decoder's first convolution: its activations then reach about OVERFLOW_SCALE (measured
# 1e5 to 1e6 at 1e5), past fp16's 65504 whatever the seed, as SDXL's VAE does; its GroupNorms undo the scale, so
# the image stays that of a well-behaved VAE and float32 decodes it without trouble.
OVERFLOW_SCALE = 1e5


class NonFiniteError(RuntimeError):
    def __init__(self, stage, message):
        super().__init__(message)
        self.stage = stage


def _check_finite(stage, tensor):
    if not torch.isfinite(tensor).all():
        raise NonFiniteError(stage, f"{stage}: NaN or infinity in {tensor.dtype}")


@torch.no_grad()
def _encode_prompt(text_encoder, input_ids, dtype):
    prompt_embeds = text_encoder.to(dtype)(input_ids).last_hidden_state
    _check_finite("text_encoder", prompt_embeds)
    return prompt_embeds


@torch.no_grad()
def _predict_noise(unet, latents, timestep, prompt_embeds, dtype):
    noise_pred = unet.to(dtype)(latents.to(dtype), timestep, encoder_hidden_states=prompt_embeds.to(dtype)).sample
    _check_finite("unet", noise_pred)
    return noise_pred


@torch.no_grad()
def _decode_latents(vae, latents, dtype, force_upcast):
    """StableDiffusionXLPipeline's decode: an fp16 VAE with force_upcast runs in float32 (``upcast_vae``)."""
    vae.to(dtype)
    needs_upcasting = vae.dtype == torch.float16 and force_upcast
    if needs_upcasting:
        vae.to(dtype=torch.float32)
        latents = latents.to(next(iter(vae.post_quant_conv.parameters())).dtype)
    latents = latents.to(vae.dtype) / vae.config.scaling_factor
    image = vae.decode(latents, return_dict=False)[0]
    _check_finite("vae", image)
    return image


ORACLE = SimpleNamespace(NonFiniteError=NonFiniteError, check_finite=_check_finite, encode_prompt=_encode_prompt,
                         predict_noise=_predict_noise, decode_latents=_decode_latents)


def _stage_result(solution, name, run):
    try:
        return {name: run()}
    except solution.NonFiniteError as error:
        return {"non_finite_stage": error.stage}


def input_ids(seed, batch=1):
    """Token ids of the tiny tokenizer's vocabulary, drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, len(recipes.tiny_tokenizer()), (batch, TOKENS), generator=generator)


def text_encoder_stage(solution, model_seed, input_ids, dtype, poisoned=False):
    """``encode_prompt`` on a tiny CLIP text encoder; ``poisoned``: one weight of its final LayerNorm is NaN."""
    text_encoder = recipes.tiny_text_encoder(model_seed)
    if poisoned:
        with torch.no_grad():
            text_encoder.final_layer_norm.weight[0] = float("nan")
    return _stage_result(solution, "prompt_embeds",
                         lambda: solution.encode_prompt(text_encoder, input_ids, DTYPES[dtype]))


def unet_stage(solution, model_seed, latents, timestep, prompt_embeds, dtype):
    """``predict_noise`` on the tiny SD UNet, from float32 latents and embeddings."""
    unet = recipes.tiny_unet(model_seed)
    return _stage_result(solution, "noise_pred",
                         lambda: solution.predict_noise(unet, latents, timestep, prompt_embeds, DTYPES[dtype]))


def vae_stage(solution, model_seed, latents, dtype, force_upcast, overflowing=False):
    """``decode_latents`` on the tiny VAE, from latents already in ``dtype`` (as a denoising loop leaves them);
    ``overflowing``: a VAE whose activations exceed fp16's range."""
    vae = recipes.tiny_vae(model_seed)
    if overflowing:
        with torch.no_grad():
            vae.decoder.conv_in.weight.mul_(OVERFLOW_SCALE)
            vae.decoder.conv_in.bias.mul_(OVERFLOW_SCALE)
    latents = latents.to(DTYPES[dtype])
    return _stage_result(solution, "image",
                         lambda: solution.decode_latents(vae, latents, DTYPES[dtype], force_upcast))


def finite_check(solution, stage, values):
    """``check_finite(stage, values)``: whether it raised, the stage its error names, and whether its message
    names the stage too."""
    try:
        solution.check_finite(stage, values)
    except solution.NonFiniteError as error:
        return {"raised": True, "stage": error.stage, "message_names_stage": stage in str(error)}
    return {"raised": False, "stage": None, "message_names_stage": False}
