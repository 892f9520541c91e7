"""vae-latents: between image and latent space with an AutoencoderKL, and Flux's 2x2 latent packing.
See README.md for each function's contract."""

import torch


def vae_scale_factor(vae) -> int:
    raise NotImplementedError("vae_scale_factor: how many pixels per latent along each side, from the VAE's config")


def encode(vae, images: torch.Tensor, generator=None, sample: bool = True) -> torch.Tensor:
    raise NotImplementedError("encode: images in [-1, 1] -> scaled, shifted latents (sample or mode of the posterior)")


def decode(vae, latents: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError("decode: undo the scaling and shift, then decode to images")


def pack_latents(latents: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError("pack_latents: (B, C, H, W) -> (B, H/2 * W/2, 4C), one token per 2x2 patch")


def unpack_latents(latents: torch.Tensor, height: int, width: int, vae_scale_factor: int) -> torch.Tensor:
    raise NotImplementedError("unpack_latents: the inverse of pack_latents for a height x width pixel image")


def prepare_packed_latents(vae, batch_size: int, height: int, width: int, generator=None) -> torch.Tensor:
    raise NotImplementedError("prepare_packed_latents: a Flux pipeline's initial noise, drawn then packed")
