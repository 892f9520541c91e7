"""Tiny diffusers models built from configs with seeded random weights: no download, ever.

Tests (trusted side) and probes (worker side) build the same recipe with the same seed and get
bitwise identical models on the same machine. Never compare against outputs stored from another
machine: fp32 initialisation differs between CPU instruction sets.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Iterator

import torch

TEXT_DIM = 32
TOKENIZER_LENGTH = 77


def device_keyword(probe, device: str) -> dict:
    """``{"device": device}`` for a probe that takes a ``device`` parameter (it builds its inputs there)."""
    return {"device": device} if "device" in inspect.signature(probe).parameters else {}


def exact_float32(device: str) -> None:
    """On CUDA, fp32 matrix products and convolutions otherwise run in TF32: both sides of a comparison would
    round the same convolutions differently once attention's last bits differ, far beyond the tolerances."""
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


@contextlib.contextmanager
def library_noise_drawn_in(drawn_in: torch.dtype) -> Iterator[None]:
    """For a float64 truth run: torch draws other normal numbers in float64 than in float32, so diffusers'
    ``randn_tensor`` (initial latents, eta and ancestral steps) draws in ``drawn_in``, the dtype the run being judged
    draws in, and casts: the truth sees the very noise of that run."""
    from diffusers.utils import torch_utils

    original = torch_utils.randn_tensor

    def same_noise(shape, generator=None, device=None, dtype=None, layout=None):
        noise = original(shape, generator=generator, device=device, dtype=drawn_in, layout=layout)
        return noise if dtype is None else noise.to(dtype)

    modules = [module for name, module in list(sys.modules.items())
               if name.startswith("diffusers") and vars(module).get("randn_tensor") is original]
    for module in modules:
        module.randn_tensor = same_noise  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in modules:
            module.randn_tensor = original  # type: ignore[attr-defined]


def _seeded(seed: int):
    torch.manual_seed(seed)


def tiny_unet(seed: int = 0, *, sdxl: bool = False, dtype=torch.float32):
    from diffusers import UNet2DConditionModel

    _seeded(seed)
    config = dict(block_out_channels=(32, 64), layers_per_block=2, sample_size=8, in_channels=4, out_channels=4,
                  down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                  up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=TEXT_DIM, norm_num_groups=32)
    if sdxl:
        config.update(attention_head_dim=(2, 4), use_linear_projection=True, transformer_layers_per_block=(1, 2),
                      addition_embed_type="text_time", addition_time_embed_dim=8,
                      projection_class_embeddings_input_dim=80, cross_attention_dim=64)
    unet = UNet2DConditionModel(**config).eval()
    return unet if dtype == torch.float32 else unet.to(dtype)


def tiny_vae(seed: int = 0):
    from diffusers import AutoencoderKL

    _seeded(seed)
    return AutoencoderKL(block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4,
                         down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                         up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), sample_size=32).eval()


def tiny_tokenizer():
    """A byte-level CLIP tokenizer with one merge, built in code (transformers 5 wants merges as tuples)."""
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    characters = list(bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(characters)}
    vocab.update({c + "</w>": i + len(characters) for i, c in enumerate(characters)})
    vocab["th"] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[("t", "h")], model_max_length=TOKENIZER_LENGTH)


def tiny_text_encoder(seed: int = 0, tokenizer=None, *, hidden_size: int = TEXT_DIM, projection_dim: int | None = None):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = tokenizer or tiny_tokenizer()
    _seeded(seed)
    config = CLIPTextConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                            pad_token_id=tokenizer.pad_token_id, hidden_size=hidden_size, intermediate_size=37,
                            layer_norm_eps=1e-05, num_attention_heads=4, num_hidden_layers=2,
                            vocab_size=len(tokenizer), max_position_embeddings=TOKENIZER_LENGTH,
                            projection_dim=projection_dim or hidden_size)
    model_class = CLIPTextModelWithProjection if projection_dim else CLIPTextModel
    return model_class(config).eval()


def tiny_sd_pipeline(seed: int = 0, scheduler=None):
    """A complete StableDiffusionPipeline, 1.4 M UNet parameters, no safety checker."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    tokenizer = tiny_tokenizer()
    pipeline = StableDiffusionPipeline(
        unet=tiny_unet(seed), vae=tiny_vae(seed + 1), text_encoder=tiny_text_encoder(seed + 2, tokenizer),
        tokenizer=tokenizer, scheduler=scheduler or DDIMScheduler(steps_offset=1, clip_sample=False),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def seeded_randn(shape, seed: int, dtype=torch.float32, scale: float = 1.0) -> torch.Tensor:
    """Random normal data drawn in fp64 (identical on every CPU instruction set), then cast."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=generator, dtype=torch.float64) * scale).to(dtype)


def seeded_generator(seed: int | None) -> torch.Generator | None:
    """A CPU generator for a scheduler's noise, or None where a test passes no seed."""
    return None if seed is None else torch.Generator().manual_seed(seed)


def unet_sampling_loop(unet, scheduler, latents, text_embeddings, **step_kwargs) -> torch.Tensor:
    """A scheduler's whole loop with ``unet`` as the model, from ``latents`` scaled by init_noise_sigma."""
    sample = latents * scheduler.init_noise_sigma
    with torch.no_grad():
        for timestep in scheduler.timesteps:
            model_input = scheduler.scale_model_input(sample, timestep)
            model_output = unet(model_input, timestep, encoder_hidden_states=text_embeddings).sample
            sample = scheduler.step(model_output, timestep, sample, **step_kwargs).prev_sample
    return sample


def tiny_controlnet(seed: int = 0):
    """A ControlNet matching ``tiny_unet`` (its conditioning image is 2x the latent size, like the tiny VAE).

    A fresh ControlNet's zero convolutions (controlnet_*_blocks, and the conv_out of its conditioning
    embedding) start at zero, so it would change nothing and ignore its image: they get seeded random
    weights here so that the control signal and the control image matter.
    """
    from diffusers import ControlNetModel

    _seeded(seed)
    controlnet = ControlNetModel(block_out_channels=(32, 64), layers_per_block=2, in_channels=4,
                                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), cross_attention_dim=TEXT_DIM,
                                 conditioning_embedding_out_channels=(16, 32), norm_num_groups=32).eval()
    with torch.no_grad():
        zero_convolutions = [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block,
                             controlnet.controlnet_cond_embedding.conv_out]
        for zero_convolution in zero_convolutions:
            torch.nn.init.normal_(zero_convolution.weight, std=0.1)
            torch.nn.init.normal_(zero_convolution.bias, std=0.1)
    return controlnet


def tiny_sdxl_pipeline(seed: int = 0, scheduler=None):
    """A complete StableDiffusionXLPipeline on ``tiny_unet(sdxl=True)``: two CLIP text encoders whose
    penultimate hidden states (32 + 32) make the UNet's 64-wide context, and whose second one's projection
    (32) plus 6 time ids x 8 make the 80 inputs of its added embedding. No watermarker."""
    from diffusers import DDIMScheduler, StableDiffusionXLPipeline

    tokenizer = tiny_tokenizer()
    pipeline = StableDiffusionXLPipeline(
        unet=tiny_unet(seed, sdxl=True), vae=tiny_vae(seed + 1), text_encoder=tiny_text_encoder(seed + 2, tokenizer),
        text_encoder_2=tiny_text_encoder(seed + 3, tokenizer, projection_dim=TEXT_DIM), tokenizer=tokenizer,
        tokenizer_2=tokenizer, scheduler=scheduler or DDIMScheduler(steps_offset=1, clip_sample=False),
        add_watermarker=False)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline
