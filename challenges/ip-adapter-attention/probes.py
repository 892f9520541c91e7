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
SPATIAL_NORM_DIM = 8
CONDITIONING = recipes.TEXT_DIM  # width of the text and image tokens


def _ip_weights(seed, count, hidden_size, cross_attention_dim):
    """The adapters' key/value projections, drawn in fp64 so that both sides load the same weights."""
    std = 1 / math.sqrt(cross_attention_dim)
    return {f"{name}.{index}.weight": recipes.seeded_randn((hidden_size, cross_attention_dim),
                                                            seed + 2 * index + offset, scale=std)
            for index in range(count) for offset, name in enumerate(("to_k_ip", "to_v_ip"))}


def _processor(solution, seed, hidden_size, num_tokens, scales):
    """``scales`` is a list (one per adapter) or a float (for every adapter), passed on as it is."""
    processor = solution.IPAdapterAttnProcessor(hidden_size, cross_attention_dim=CONDITIONING,
                                                num_tokens=num_tokens, scale=scales)
    processor.load_state_dict(_ip_weights(seed, len(num_tokens), hidden_size, CONDITIONING))
    return processor


def _scale_list(processor) -> dict:
    """What the processor keeps in ``self.scale``: a list with one float per adapter."""
    return {"scale_is_list": isinstance(processor.scale, list), "scale": [float(s) for s in processor.scale]}


def layer_inputs(seed, batch=2, tokens=(4,), images=1, spatial=False, height=4, width=4):
    """Query-side hidden states (16 tokens, or a (B, C, height, width) map), text tokens and per-adapter image
    tokens, (B, images, tokens, D), or (B, tokens, D) when ``images`` is None."""
    shape = (batch, QUERY_DIM, height, width) if spatial else (batch, 16, QUERY_DIM)
    image_shape = (lambda count: (batch, count, CONDITIONING)) if images is None else \
        (lambda count: (batch, images, count, CONDITIONING))
    return dict(hidden_states=recipes.seeded_randn(shape, seed),
                text_states=recipes.seeded_randn((batch, TEXT_TOKENS, CONDITIONING), seed + 1),
                image_states=[recipes.seeded_randn(image_shape(count), seed + 2 + index)
                              for index, count in enumerate(tokens)])


# The Attention module's options the processor must honour, by name: constructor arguments, and whether the
# module then needs a ``temb`` (spatial_norm conditions on it).
MODULE_OPTIONS = {
    "plain": {},
    "group-norm": {"norm_num_groups": 8},
    "spatial-norm": {"spatial_norm_dim": SPATIAL_NORM_DIM},
    "norm-cross": {"cross_attention_norm": "layer_norm"},
}


def spatial_temb(seed, batch=2, size=2):
    """The conditioning map a spatial_norm module gets as ``temb`` (upsampled to the hidden map's size)."""
    return recipes.seeded_randn((batch, SPATIAL_NORM_DIM, size, size), seed)


@torch.no_grad()
def attention_layer(solution, seed, scales, hidden_states, text_states, image_states, attention_mask=None,
                    residual_connection=False, rescale_output_factor=1.0, module="plain", temb=None):
    """One diffusers ``Attention`` module (seeded, with the options ``MODULE_OPTIONS[module]``) whose processor is
    the IP-Adapter one; the output, and the processor's ``scale``."""
    torch.manual_seed(seed)
    attn = Attention(QUERY_DIM, cross_attention_dim=CONDITIONING, heads=HEADS, dim_head=HEAD_DIM,
                     residual_connection=residual_connection, rescale_output_factor=rescale_output_factor,
                     **MODULE_OPTIONS[module]).eval()
    num_tokens = [states.shape[-2] for states in image_states]
    processor = _processor(solution, seed + 100, QUERY_DIM, num_tokens, scales)
    attn.set_processor(processor)
    extra = {} if temb is None else {"temb": temb}
    output = attn(hidden_states, encoder_hidden_states=(text_states, list(image_states)),
                  attention_mask=attention_mask, **extra)
    return {"output": output, **_scale_list(processor)}


@torch.no_grad()
def default_processor(solution, seed, hidden_states, text_states, image_states):
    """A processor built with its defaults (``num_tokens`` and ``scale`` left out), its one adapter's weights
    loaded, in one ``Attention`` module: the output, the processor's ``scale`` and how many adapters it has."""
    torch.manual_seed(seed)
    attn = Attention(QUERY_DIM, cross_attention_dim=CONDITIONING, heads=HEADS, dim_head=HEAD_DIM).eval()
    processor = solution.IPAdapterAttnProcessor(QUERY_DIM, cross_attention_dim=CONDITIONING)
    processor.load_state_dict(_ip_weights(seed + 100, 1, QUERY_DIM, CONDITIONING))
    attn.set_processor(processor)
    output = attn(hidden_states, encoder_hidden_states=(text_states, list(image_states)))
    return {"output": output, "adapters": len(processor.to_k_ip), **_scale_list(processor)}


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
