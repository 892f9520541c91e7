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


def encode(solution, vae_kind, model_seed, image_seed, batch_size=2, generator_seeds=None, sample=True):
    vae = tiny_vae(vae_kind, model_seed)
    images = recipes.seeded_randn((batch_size, 3, IMAGE_SIZE, IMAGE_SIZE), image_seed).clamp(-1, 1)
    with torch.no_grad():
        latents = solution.encode(vae, images, generator=_generator(generator_seeds), sample=sample)
    return {"latents": latents}


def decode(solution, vae_kind, model_seed, latent_seed, batch_size=2):
    vae = tiny_vae(vae_kind, model_seed)
    latent_size = IMAGE_SIZE // (2 ** (len(vae.config.block_out_channels) - 1))
    latents = recipes.seeded_randn((batch_size, vae.config.latent_channels, latent_size, latent_size), latent_seed)
    with torch.no_grad():
        return {"images": solution.decode(vae, latents)}


def pack(solution, latents):
    return {"packed": solution.pack_latents(latents)}


def unpack(solution, packed, height, width, vae_scale_factor):
    return {"latents": solution.unpack_latents(packed, height, width, vae_scale_factor)}


def prepare_packed_latents(solution, vae_kind, batch_size, height, width, generator_seed):
    vae = tiny_vae(vae_kind, 0)
    return {"latents": solution.prepare_packed_latents(vae, batch_size, height, width,
                                                       generator=_generator(generator_seed))}
