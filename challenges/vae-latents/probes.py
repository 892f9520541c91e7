"""Trusted helpers for vae-latents. Each runs with ``solution`` = the candidate's module (in the worker) or
the library itself (the oracle, in the grader), so both sides do exactly the same thing."""

from types import SimpleNamespace

import torch
from diffusers import AutoencoderKL, FluxPipeline
from diffusers.pipelines.flux.pipeline_flux_img2img import retrieve_latents

from pytest_diffchallenge import recipes

IMAGE_SIZE = 32


def _flux_pipeline(vae):
    """A FluxPipeline holding only the VAE: enough for its vae_scale_factor and prepare_latents."""
    return FluxPipeline(scheduler=None, vae=vae, text_encoder=None, tokenizer=None, text_encoder_2=None,
                        tokenizer_2=None, transformer=None)


def _library_encode(vae, images, generator=None, sample=True):
    """What FluxImg2ImgPipeline._encode_vae_image and SD's img2img prepare_latents do (SD's VAEs have no shift)."""
    mode = "sample" if sample else "argmax"
    if isinstance(generator, list):
        latents = torch.cat([retrieve_latents(vae.encode(images[i : i + 1]), generator=generator[i], sample_mode=mode)
                             for i in range(images.shape[0])])
    else:
        latents = retrieve_latents(vae.encode(images), generator=generator, sample_mode=mode)
    return (latents - (vae.config.shift_factor or 0.0)) * vae.config.scaling_factor


def _library_decode(vae, latents):
    """FluxPipeline.__call__'s decoding (StableDiffusionPipeline's, when the VAE has no shift)."""
    return vae.decode(latents / vae.config.scaling_factor + (vae.config.shift_factor or 0.0)).sample


ORACLE = SimpleNamespace(
    vae_scale_factor=lambda vae: _flux_pipeline(vae).vae_scale_factor,
    encode=_library_encode,
    decode=_library_decode,
    pack_latents=lambda latents: FluxPipeline._pack_latents(latents, *latents.shape),
    unpack_latents=FluxPipeline._unpack_latents,
    prepare_packed_latents=lambda vae, batch_size, height, width, generator=None: _flux_pipeline(vae).prepare_latents(
        batch_size, vae.config.latent_channels, height, width, torch.float32, "cpu", generator)[0],
)


def tiny_vae(kind, seed):
    """'sd': 4 latent channels, 2 px per latent, scaling only. 'flux': 16 channels, 4 px per latent, no quant
    convs, scaling and shift (Flux's own factors)."""
    if kind == "sd":
        return recipes.tiny_vae(seed)
    torch.manual_seed(seed)
    return AutoencoderKL(block_out_channels=(32, 32, 64), in_channels=3, out_channels=3, latent_channels=16,
                         down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                         use_quant_conv=False, use_post_quant_conv=False, scaling_factor=0.3611,
                         shift_factor=0.1159, sample_size=IMAGE_SIZE).eval()


def _generator(seeds):
    if seeds is None:
        return None
    if isinstance(seeds, list):
        return [torch.Generator().manual_seed(seed) for seed in seeds]
    return torch.Generator().manual_seed(seeds)


def scale_factor(solution, vae_kind, model_seed=0):
    return {"vae_scale_factor": int(solution.vae_scale_factor(tiny_vae(vae_kind, model_seed)))}


def scale_factor_of_depth(solution, blocks):
    """A VAE with ``blocks`` encoder blocks (32 channels each), built for its config only."""
    vae = AutoencoderKL(block_out_channels=(32,) * blocks, down_block_types=("DownEncoderBlock2D",) * blocks,
                        up_block_types=("UpDecoderBlock2D",) * blocks, layers_per_block=1)
    return {"vae_scale_factor": int(solution.vae_scale_factor(vae))}


def _optional(**arguments) -> dict:
    """The keyword arguments that are not None: a None here means 'leave it to the function's default'."""
    return {name: value for name, value in arguments.items() if value is not None}


def encode(solution, vae_kind, model_seed, image_seed, batch_size=2, generator_seeds=None, sample=None,
           height=IMAGE_SIZE, width=IMAGE_SIZE, global_seed=None):
    """``generator_seeds`` None: no generator is passed, and when ``global_seed`` is given torch's global generator
    is seeded with it just before the call. ``sample`` None: the default is used."""
    vae = tiny_vae(vae_kind, model_seed)
    images = recipes.seeded_randn((batch_size, 3, height, width), image_seed).clamp(-1, 1)
    if global_seed is not None:
        torch.manual_seed(global_seed)
    with torch.no_grad():
        latents = solution.encode(vae, images, **_optional(generator=_generator(generator_seeds), sample=sample))
    return {"latents": latents}


def decode(solution, vae_kind, model_seed, latent_seed, batch_size=2, height=IMAGE_SIZE, width=IMAGE_SIZE):
    """Latents for a ``height`` x ``width`` pixel image."""
    vae = tiny_vae(vae_kind, model_seed)
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    latents = recipes.seeded_randn((batch_size, vae.config.latent_channels, height // factor, width // factor),
                                   latent_seed)
    with torch.no_grad():
        return {"images": solution.decode(vae, latents)}


def pack(solution, latents):
    return {"packed": solution.pack_latents(latents)}


def unpack(solution, packed, height, width, vae_scale_factor):
    return {"latents": solution.unpack_latents(packed, height, width, vae_scale_factor)}


def prepare_packed_latents(solution, vae_kind, batch_size, height, width, generator_seed=None, global_seed=None):
    """``generator_seed``: one seed (one generator), a list (one generator per image) or None (no generator passed;
    torch's global generator seeded with ``global_seed`` just before the call)."""
    vae = tiny_vae(vae_kind, 0)
    if global_seed is not None:
        torch.manual_seed(global_seed)
    return {"latents": solution.prepare_packed_latents(vae, batch_size, height, width,
                                                       **_optional(generator=_generator(generator_seed)))}
