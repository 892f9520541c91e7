"""Reference solution for timestep-embedding: the Transformer's sinusoidal position encoding, applied to
diffusion timesteps (Ho et al., 2020; Vaswani et al., 2017), as diffusers' UNets use it."""

import math

import torch
from torch import nn


def get_timestep_embedding(timesteps: torch.Tensor, embedding_dim: int, flip_sin_to_cos: bool = False,
                           downscale_freq_shift: float = 1, scale: float = 1, max_period: int = 10000) -> torch.Tensor:
    if timesteps.ndim != 1:
        raise ValueError("timesteps must be a 1-D tensor, one (possibly fractional) timestep per batch element")
    half_dim = embedding_dim // 2

    # 1. frequencies exp(-log(max_period) * i / (half_dim - shift)), i = 0 .. half_dim - 1, in fp32:
    #    shift = 1 makes the last frequency exactly 1 / max_period, shift = 0 stops one step short of it
    exponent = -math.log(max_period) * torch.arange(half_dim, dtype=torch.float32, device=timesteps.device)
    frequencies = torch.exp(exponent / (half_dim - downscale_freq_shift))

    # 2. one angle per (timestep, frequency); integer timesteps become fp32 first
    angles = scale * (timesteps[:, None].float() * frequencies[None, :])

    # 3. [sin | cos], or [cos | sin] when flipped (the order the original DDPM/LDM checkpoints used)
    embedding = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    if flip_sin_to_cos:
        embedding = torch.cat([embedding[:, half_dim:], embedding[:, :half_dim]], dim=-1)

    # 4. an odd dimension gets one zero column at the end
    if embedding_dim % 2 == 1:
        embedding = nn.functional.pad(embedding, (0, 1))
    return embedding


class Timesteps(nn.Module):
    """The UNet's time_proj: a module wrapping get_timestep_embedding with fixed options."""

    def __init__(self, num_channels: int, flip_sin_to_cos: bool, downscale_freq_shift: float, scale: int = 1):
        super().__init__()
        self.num_channels = num_channels
        self.flip_sin_to_cos = flip_sin_to_cos
        self.downscale_freq_shift = downscale_freq_shift
        self.scale = scale

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        return get_timestep_embedding(timesteps, self.num_channels, flip_sin_to_cos=self.flip_sin_to_cos,
                                      downscale_freq_shift=self.downscale_freq_shift, scale=self.scale)
