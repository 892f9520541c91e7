"""Reference solution for vae-latents: between pixels and latents with an AutoencoderKL, and the 2x2 packing
of Flux-style transformers, as diffusers' pipelines do it."""

import torch
from diffusers.utils.torch_utils import randn_tensor


def vae_scale_factor(vae) -> int:
    # every down block but the last halves the resolution
    return 2 ** (len(vae.config.block_out_channels) - 1)


def encode(vae, images: torch.Tensor, generator=None, sample: bool = True) -> torch.Tensor:
    """Images in [-1, 1] -> latents the denoiser works on: (z - shift_factor) * scaling_factor."""
    if isinstance(generator, list):
        # one generator per image: encode each alone, so image i's noise depends only on generator i
        latents = torch.cat([_posterior_latents(vae, images[i : i + 1], generator[i], sample)
                             for i in range(images.shape[0])])
    else:
        latents = _posterior_latents(vae, images, generator, sample)
    shift_factor = vae.config.shift_factor or 0.0
    return (latents - shift_factor) * vae.config.scaling_factor


def _posterior_latents(vae, images, generator, sample):
    posterior = vae.encode(images).latent_dist  # a diagonal Gaussian over z
    if not sample:
        return posterior.mean  # its mode
    # reparameterisation: z = mean + std * eps, eps drawn like every diffusers pipeline draws noise
    noise = randn_tensor(posterior.mean.shape, generator=generator, device=posterior.mean.device,
                         dtype=posterior.mean.dtype)
    return posterior.mean + posterior.std * noise


def decode(vae, latents: torch.Tensor) -> torch.Tensor:
    """Latents -> images in about [-1, 1]: undo the scaling, then the shift, then run the decoder."""
    shift_factor = vae.config.shift_factor or 0.0
    return vae.decode(latents / vae.config.scaling_factor + shift_factor).sample


def pack_latents(latents: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H/2 * W/2, 4C): each 2x2 patch becomes one token, channels before the patch offsets."""
    batch_size, channels, height, width = latents.shape
    latents = latents.view(batch_size, channels, height // 2, 2, width // 2, 2)
    latents = latents.permute(0, 2, 4, 1, 3, 5)  # (B, H/2, W/2, C, 2, 2)
    return latents.reshape(batch_size, (height // 2) * (width // 2), channels * 4)


def unpack_latents(latents: torch.Tensor, height: int, width: int, vae_scale_factor: int) -> torch.Tensor:
    """The inverse of pack_latents, for an image of height x width pixels."""
    batch_size, _, packed_channels = latents.shape
    # the latent grid must be even to hold whole 2x2 patches: round the pixel size down to 2 * vae_scale_factor
    height = 2 * (int(height) // (vae_scale_factor * 2))
    width = 2 * (int(width) // (vae_scale_factor * 2))
    latents = latents.view(batch_size, height // 2, width // 2, packed_channels // 4, 2, 2)
    latents = latents.permute(0, 3, 1, 4, 2, 5)  # (B, C, H/2, 2, W/2, 2)
    return latents.reshape(batch_size, packed_channels // 4, height, width)


def prepare_packed_latents(vae, batch_size: int, height: int, width: int, generator=None) -> torch.Tensor:
    """The initial noise of a Flux-style pipeline for height x width pixels, drawn unpacked, then packed."""
    factor = vae_scale_factor(vae)
    shape = (batch_size, vae.config.latent_channels, 2 * (int(height) // (factor * 2)),
             2 * (int(width) // (factor * 2)))
    return pack_latents(randn_tensor(shape, generator=generator, dtype=torch.float32))
