"""timestep-embedding: the sinusoidal timestep embedding of a diffusion UNet. See README.md."""

import torch
from torch import nn


def get_timestep_embedding(timesteps: torch.Tensor, embedding_dim: int, flip_sin_to_cos: bool = False,
                           downscale_freq_shift: float = 1, scale: float = 1, max_period: int = 10000) -> torch.Tensor:
    raise NotImplementedError(
        "get_timestep_embedding is not implemented yet: map N timesteps to an [N, embedding_dim] tensor of "
        "sines and cosines at geometrically spaced frequencies (see README.md for every option)")


class Timesteps(nn.Module):
    """The UNet's time_proj: a module wrapping get_timestep_embedding with fixed options."""

    def __init__(self, num_channels: int, flip_sin_to_cos: bool, downscale_freq_shift: float, scale: int = 1):
        super().__init__()
        self.num_channels = num_channels
        self.flip_sin_to_cos = flip_sin_to_cos
        self.downscale_freq_shift = downscale_freq_shift
        self.scale = scale

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("Timesteps.forward is not implemented yet: embed the timesteps with "
                                  "this module's options")
