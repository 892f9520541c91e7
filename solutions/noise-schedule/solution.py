"""Reference solution for noise-schedule: the forward process of DDPM (Ho et al., 2020) as diffusers builds it:
beta schedules, q(x_t | x_0), the v target (Salimans & Ho, 2022), SNR, and zero terminal SNR (Lin et al., 2023)."""

import math

import torch


def _laplace(t):
    log_snr = -0.5 * math.copysign(1, 0.5 - t) * math.log(1 - 2 * math.fabs(0.5 - t) + 1e-6)
    snr = math.exp(log_snr)
    return math.sqrt(snr / (1 + snr))


ALPHA_BAR = {  # alpha_bar(t) for t in [0, 1]
    # improved DDPM's cosine schedule (Nichol & Dhariwal, 2021), with its small offset s = 0.008
    "cosine": lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2,
    "exp": lambda t: math.exp(t * -12.0),
    "laplace": _laplace,
}


def betas_for_alpha_bar(num_diffusion_timesteps, max_beta=0.999, alpha_transform_type="cosine"):
    """Betas whose cumulative product follows alpha_bar(t), t in [0, 1]: beta_i = 1 - alpha_bar(t2) / alpha_bar(t1)."""
    if alpha_transform_type not in ALPHA_BAR:
        raise ValueError(f"unsupported alpha_transform_type {alpha_transform_type!r}")
    alpha_bar = ALPHA_BAR[alpha_transform_type]
    betas = [min(1 - alpha_bar((i + 1) / num_diffusion_timesteps) / alpha_bar(i / num_diffusion_timesteps), max_beta)
             for i in range(num_diffusion_timesteps)]
    return torch.tensor(betas, dtype=torch.float32)


def make_betas(beta_schedule, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02):
    if beta_schedule == "linear":
        return torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)
    if beta_schedule == "scaled_linear":
        # latent diffusion's schedule: linear in sqrt(beta)
        return torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float32) ** 2
    if beta_schedule == "squaredcos_cap_v2":
        return betas_for_alpha_bar(num_train_timesteps)
    raise ValueError(f"unknown beta_schedule {beta_schedule!r}")


def rescale_zero_terminal_snr(betas):
    """Shift and scale sqrt(alpha_bar) so that it ends at exactly 0 and keeps its first value (Algorithm 1)."""
    alphas_bar_sqrt = torch.cumprod(1.0 - betas, dim=0).sqrt()
    first, last = alphas_bar_sqrt[0].clone(), alphas_bar_sqrt[-1].clone()
    alphas_bar_sqrt = (alphas_bar_sqrt - last) * (first / (first - last))
    alphas_bar = alphas_bar_sqrt**2
    alphas = torch.cat([alphas_bar[0:1], alphas_bar[1:] / alphas_bar[:-1]])
    return 1 - alphas


def _per_sample(values, timesteps, like):
    """values[timesteps], shaped to broadcast over a batch like ``like``."""
    picked = values.to(device=like.device, dtype=like.dtype)[timesteps.to(like.device)].flatten()
    return picked.reshape(-1, *([1] * (like.ndim - 1)))


def add_noise(alphas_cumprod, original_samples, noise, timesteps):
    """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise, in the samples' dtype."""
    alpha_bar = _per_sample(alphas_cumprod, timesteps, original_samples)
    return alpha_bar**0.5 * original_samples + (1 - alpha_bar) ** 0.5 * noise


def get_velocity(alphas_cumprod, sample, noise, timesteps):
    """v = sqrt(alpha_bar_t) noise - sqrt(1 - alpha_bar_t) x_0."""
    alpha_bar = _per_sample(alphas_cumprod, timesteps, sample)
    return alpha_bar**0.5 * noise - (1 - alpha_bar) ** 0.5 * sample


def compute_snr(alphas_cumprod, timesteps):
    """SNR(t) = alpha_bar_t / (1 - alpha_bar_t), one fp32 value per timestep."""
    alpha = (alphas_cumprod**0.5).to(timesteps.device)[timesteps].float()
    sigma = ((1.0 - alphas_cumprod) ** 0.5).to(timesteps.device)[timesteps].float()
    return (alpha / sigma) ** 2
