"""Trusted helpers for ip-adapter-attention. Each runs with ``solution`` = the candidate's module (in the worker)
or the library itself (the oracle, in the grader), so both sides do exactly the same thing."""

import math
from types import SimpleNamespace

import torch
from diffusers.models.attention_processor import Attention, IPAdapterAttnProcessor2_0
from diffusers.models.embeddings import ImageProjection, MultiIPAdapterImageProjection

from pytest_diffchallenge import recipes

ORACLE = SimpleNamespace(IPAdapterAttnProcessor=IPAdapterAttnProcessor2_0)
QUERY_DIM, HEADS, HEAD_DIM = 64, 4, 16
TEXT_TOKENS = 7
IMAGE_EMBED_DIM = 16
CONDITIONING = recipes.TEXT_DIM  # width of the text and image tokens


def _ip_weights(seed, count, hidden_size, cross_attention_dim):
    """The adapters' key/value projections, drawn in fp64 so that both sides load the same weights."""
    std = 1 / math.sqrt(cross_attention_dim)
    return {f"{name}.{index}.weight": recipes.seeded_randn((hidden_size, cross_attention_dim),
                                                            seed + 2 * index + offset, scale=std)
            for index in range(count) for offset, name in enumerate(("to_k_ip", "to_v_ip"))}


def _processor(solution, seed, hidden_size, num_tokens, scales):
    processor = solution.IPAdapterAttnProcessor(hidden_size, cross_attention_dim=CONDITIONING,
                                                num_tokens=num_tokens, scale=scales)
    processor.load_state_dict(_ip_weights(seed, len(num_tokens), hidden_size, CONDITIONING))
    return processor


def layer_inputs(seed, batch=2, tokens=(4,), images=1, spatial=False):
    """Query-side hidden states (tokens, or a (B, C, H, W) map), text tokens and per-adapter image tokens."""
    shape = (batch, QUERY_DIM, 4, 4) if spatial else (batch, 16, QUERY_DIM)
    return dict(hidden_states=recipes.seeded_randn(shape, seed),
                text_states=recipes.seeded_randn((batch, TEXT_TOKENS, CONDITIONING), seed + 1),
                image_states=[recipes.seeded_randn((batch, images, count, CONDITIONING), seed + 2 + index)
                              for index, count in enumerate(tokens)])


@torch.no_grad()
def attention_layer(solution, seed, scales, hidden_states, text_states, image_states, attention_mask=None,
                    residual_connection=False, rescale_output_factor=1.0):
    """One diffusers ``Attention`` module (seeded) whose processor is the IP-Adapter one."""
    torch.manual_seed(seed)
    attn = Attention(QUERY_DIM, cross_attention_dim=CONDITIONING, heads=HEADS, dim_head=HEAD_DIM,
                     residual_connection=residual_connection, rescale_output_factor=rescale_output_factor).eval()
    num_tokens = [states.shape[-2] for states in image_states]
    attn.set_processor(_processor(solution, seed + 100, QUERY_DIM, num_tokens, scales))
    output = attn(hidden_states, encoder_hidden_states=(text_states, list(image_states)),
                  attention_mask=attention_mask)
    return {"output": output}


@torch.no_grad()
def unet_with_adapters(solution, seed, scales, sample, timestep, text_states, image_embeds, tokens):
    """The tiny UNet with IP-Adapters on every cross-attention, as ``load_ip_adapter`` sets it up: image
    embeddings go through image projections (``encoder_hid_proj``) into the processors' image tokens."""
    unet = recipes.tiny_unet(seed)
    torch.manual_seed(seed + 1)
    unet.encoder_hid_proj = MultiIPAdapterImageProjection(
        [ImageProjection(image_embed_dim=IMAGE_EMBED_DIM, cross_attention_dim=CONDITIONING, num_image_text_embeds=count)
         for count in tokens]).eval()
    unet.config.encoder_hid_dim_type = "ip_image_proj"
    processors = {}
    for index, (name, processor) in enumerate(unet.attn_processors.items()):
        module = unet.get_submodule(name.removesuffix(".processor"))
        if name.endswith("attn2.processor"):  # cross-attention: decoupled; self-attention keeps its processor
            processor = _processor(solution, seed + 1000 * (index + 1), module.to_q.out_features, list(tokens), scales)
        processors[name] = processor
    unet.set_attn_processor(processors)
    output = unet(sample, timestep, encoder_hidden_states=text_states,
                  added_cond_kwargs={"image_embeds": list(image_embeds)}).sample
    return {"sample": output}


def unet_inputs(seed, batch=2, adapters=1, images=1):
    return dict(sample=recipes.seeded_randn((batch, 4, 8, 8), seed),
                text_states=recipes.seeded_randn((batch, TEXT_TOKENS, CONDITIONING), seed + 1),
                image_embeds=[recipes.seeded_randn((batch, images, IMAGE_EMBED_DIM), seed + 2 + index)
                              for index in range(adapters)])
