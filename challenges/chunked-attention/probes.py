"""Trusted helpers for chunked-attention. Each runs with ``solution`` = the candidate's module (in the worker)
or the library itself (the oracle, in the grader), so both sides do exactly the same thing.

Everything runs under ``torch.no_grad()``: with autograd on, every block of scores would be kept for the
backward pass and no processor could save memory.
"""

from types import SimpleNamespace

import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from pytest_diffchallenge import recipes


def library_processor(chunk_size: int = 1024):
    """The oracle: diffusers' own scaled-dot-product-attention processor (it has no chunk size)."""
    return AttnProcessor2_0()


ORACLE = SimpleNamespace(ChunkedAttnProcessor=library_processor)
CHANNELS = 32
TEXT_CHANNELS = 16
# A VAE mid-block attention, as AutoencoderKL builds it: one head over all channels, group norm first,
# the residual added back, the output rescaled.
VAE_BLOCK = dict(query_dim=CHANNELS, heads=1, dim_head=CHANNELS, norm_num_groups=8, eps=1e-6, bias=True,
                 upcast_softmax=True, residual_connection=True, rescale_output_factor=2.0,
                 _from_deprecated_attn_block=True)
# A transformer block's attention: several heads, no bias, 3-D (batch, tokens, channels) input.
TRANSFORMER_BLOCK = dict(query_dim=CHANNELS, heads=4, dim_head=8)


def seeded_attention(config: dict, seed: int) -> Attention:
    """An Attention module whose every weight, norms included, is random (default norms are the identity)."""
    torch.manual_seed(seed)
    module = Attention(**config).eval()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(0.0, 0.5 if parameter.ndim == 1 else parameter[0].numel() ** -0.5)
    return module


def _attention_call(solution, config, module_seed, chunk_size, hidden_states, device, **call_inputs):
    """``chunk_size`` None: the processor is built with no argument, at its default chunk size."""
    module = seeded_attention(config, module_seed).to(device)
    module.set_processor(solution.ChunkedAttnProcessor() if chunk_size is None
                         else solution.ChunkedAttnProcessor(chunk_size=chunk_size))
    hidden_states = hidden_states.to(device)
    inputs = {name: value.to(device) for name, value in call_inputs.items() if value is not None}

    def run():
        with torch.no_grad():
            return {"output": module(hidden_states, **inputs)}

    return run


def attention(solution, config, module_seed, chunk_size, hidden_states, encoder_hidden_states=None,
              attention_mask=None, temb=None, device="cpu"):
    """One ``Attention`` module with the solution's processor."""
    return _attention_call(solution, config, module_seed, chunk_size, hidden_states, device,
                           encoder_hidden_states=encoder_hidden_states, attention_mask=attention_mask, temb=temb)()


def long_sequence(solution, config, module_seed, chunk_size, batch, side, data_seed, device="cpu"):
    """A (batch, channels, side, side) image through one attention module: ``side**2`` tokens. Returns the call
    alone, so that building the module and the inputs is neither measured nor timed."""
    hidden_states = recipes.seeded_randn((batch, config["query_dim"], side, side), data_seed)
    return _attention_call(solution, config, module_seed, chunk_size, hidden_states, device)


def timed_text_conditioning(solution, module_seed, chunk_size, image_tokens, text_tokens, data_seed, device="cpu"):
    """Cross-attention from image tokens to a prompt's text tokens, on one thread; returns the call alone, so
    that building the module and the inputs is not timed.

    One thread, because with several every parallel operation waits for its slowest thread, and on a loaded
    machine that thread is often descheduled: code made of many small single-threaded operations (a loop
    over queries) then loses far less time than code made of a few large parallel ones, and the ratio of
    the two would measure the machine's load rather than the code."""
    config = {**TRANSFORMER_BLOCK, "cross_attention_dim": TEXT_CHANNELS}
    run = _attention_call(solution, config, module_seed, chunk_size,
                          recipes.seeded_randn((1, image_tokens, CHANNELS), data_seed), device,
                          encoder_hidden_states=recipes.seeded_randn((1, text_tokens, TEXT_CHANNELS), data_seed + 1))

    def run_on_one_thread():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return run()
        finally:
            torch.set_num_threads(threads)

    return run_on_one_thread


def unet(solution, unet_seed, data_seed, chunk_size, sdxl=False, text_mask=None, image_mask=None, device="cpu"):
    """A tiny UNet with the processor on every attention module; masks are 1 (keep) / 0 (drop) per token, as
    pipelines pass them: ``text_mask`` over the prompt's tokens, ``image_mask`` over the 4x4 latent tokens
    that the UNet's attention blocks see."""
    model = recipes.tiny_unet(unet_seed, sdxl=sdxl).to(device)
    model.set_attn_processor(solution.ChunkedAttnProcessor(chunk_size=chunk_size))
    batch = 2
    sample = recipes.seeded_randn((batch, 4, 8, 8), data_seed).to(device)
    text = recipes.seeded_randn((batch, 7, model.config.cross_attention_dim), data_seed + 1).to(device)
    added = None
    if sdxl:
        added = {"text_embeds": recipes.seeded_randn((batch, 32), data_seed + 2).to(device),
                 "time_ids": torch.tensor([[64.0, 64.0, 0.0, 0.0, 64.0, 64.0]] * batch, device=device)}
    masks = {name: mask.to(device) for name, mask in
             (("encoder_attention_mask", text_mask), ("attention_mask", image_mask)) if mask is not None}
    with torch.no_grad():
        output = model(sample, 500, encoder_hidden_states=text, added_cond_kwargs=added, **masks).sample
    return {"sample": output}


def vae_decode(solution, vae_seed, data_seed, chunk_size, device="cpu"):
    """A tiny AutoencoderKL decode: its mid block attends over the 8x8 latent pixels of a 4-D input."""
    model = recipes.tiny_vae(vae_seed).to(device)
    model.set_attn_processor(solution.ChunkedAttnProcessor(chunk_size=chunk_size))
    with torch.no_grad():
        return {"image": model.decode(recipes.seeded_randn((2, 4, 8, 8), data_seed).to(device)).sample}
