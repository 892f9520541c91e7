"""noise-schedule: the forward process of a diffusion model, as diffusers builds it. See README.md."""

import torch


def betas_for_alpha_bar(num_diffusion_timesteps: int, max_beta: float = 0.999,
                        alpha_transform_type: str = "cosine") -> torch.Tensor:
    raise NotImplementedError("betas_for_alpha_bar is not implemented yet: discretise alpha_bar(t) into betas "
                              "(see README.md)")


def make_betas(beta_schedule: str, num_train_timesteps: int = 1000, beta_start: float = 0.0001,
               beta_end: float = 0.02) -> torch.Tensor:
    raise NotImplementedError("make_betas is not implemented yet: linear, scaled_linear and squaredcos_cap_v2")


def rescale_zero_terminal_snr(betas: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError("rescale_zero_terminal_snr is not implemented yet")


def add_noise(alphas_cumprod: torch.Tensor, original_samples: torch.Tensor, noise: torch.Tensor,
              timesteps: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError("add_noise is not implemented yet: sample q(x_t | x_0)")


def get_velocity(alphas_cumprod: torch.Tensor, sample: torch.Tensor, noise: torch.Tensor,
                 timesteps: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError("get_velocity is not implemented yet: the v-prediction target")


def compute_snr(alphas_cumprod: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError("compute_snr is not implemented yet: the signal-to-noise ratio at each timestep")
