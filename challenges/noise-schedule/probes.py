"""Trusted helpers for noise-schedule. Each runs with ``solution`` = the candidate's module (in the worker) or
the library itself (the oracle, in the grader), so both sides do exactly the same thing."""

from types import SimpleNamespace

import torch
from diffusers import DDPMScheduler
from diffusers.schedulers import scheduling_ddpm
from diffusers.training_utils import compute_snr

from pytest_diffchallenge import recipes

SHAPE = (4, 4, 8, 8)


def _ddpm_with(alphas_cumprod):
    scheduler = DDPMScheduler()
    scheduler.alphas_cumprod = alphas_cumprod.clone()
    return scheduler


ORACLE = SimpleNamespace(
    betas_for_alpha_bar=scheduling_ddpm.betas_for_alpha_bar,
    make_betas=lambda beta_schedule, num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02: DDPMScheduler(
        num_train_timesteps=num_train_timesteps, beta_start=beta_start, beta_end=beta_end,
        beta_schedule=beta_schedule).betas,
    rescale_zero_terminal_snr=scheduling_ddpm.rescale_zero_terminal_snr,
    add_noise=lambda alphas_cumprod, original_samples, noise, timesteps: _ddpm_with(alphas_cumprod).add_noise(
        original_samples, noise, timesteps),
    get_velocity=lambda alphas_cumprod, sample, noise, timesteps: _ddpm_with(alphas_cumprod).get_velocity(
        sample, noise, timesteps),
    compute_snr=lambda alphas_cumprod, timesteps: compute_snr(SimpleNamespace(alphas_cumprod=alphas_cumprod),
                                                              timesteps),
)


def alphas_cumprod_of(betas):
    return torch.cumprod(1.0 - betas, dim=0)


def batch(seed, num_train_timesteps=1000, dtype=torch.float32):
    """Clean samples, noise and one random training timestep per sample (the last one included)."""
    generator = torch.Generator().manual_seed(seed)
    timesteps = torch.randint(0, num_train_timesteps, (SHAPE[0],), generator=generator)
    timesteps[-1] = num_train_timesteps - 1
    return dict(original_samples=recipes.seeded_randn(SHAPE, seed, dtype),
                noise=recipes.seeded_randn(SHAPE, seed + 1, dtype), timesteps=timesteps)


def betas(solution, beta_schedule, **options):
    return {"betas": solution.make_betas(beta_schedule, **options)}


def alpha_bar_betas(solution, num_diffusion_timesteps, **options):
    return {"betas": solution.betas_for_alpha_bar(num_diffusion_timesteps, **options)}


def rescaled(solution, betas):
    rescaled_betas = solution.rescale_zero_terminal_snr(betas.clone())
    return {"betas": rescaled_betas, "alphas_cumprod": alphas_cumprod_of(rescaled_betas)}


def noised(solution, alphas_cumprod, original_samples, noise, timesteps):
    return {"noisy": solution.add_noise(alphas_cumprod, original_samples, noise, timesteps)}


def velocity(solution, alphas_cumprod, original_samples, noise, timesteps):
    return {"velocity": solution.get_velocity(alphas_cumprod, original_samples, noise, timesteps)}


def snr(solution, alphas_cumprod, timesteps):
    return {"snr": solution.compute_snr(alphas_cumprod, timesteps)}


def training_loss(solution, beta_schedule, prediction_type, rescale, snr_gamma, unet_seed, original_samples, noise,
                  timesteps, text_embeddings):
    """One training step's loss as diffusers' train_text_to_image.py computes it, with min-SNR-gamma weighting
    (Hang et al., 2023), built only from the solution's functions and a tiny UNet."""
    betas_ = solution.make_betas(beta_schedule, beta_start=0.00085, beta_end=0.012)
    if rescale:
        betas_ = solution.rescale_zero_terminal_snr(betas_)
    alphas_cumprod = alphas_cumprod_of(betas_)
    noisy = solution.add_noise(alphas_cumprod, original_samples, noise, timesteps)
    target = noise if prediction_type == "epsilon" else solution.get_velocity(alphas_cumprod, original_samples, noise,
                                                                             timesteps)
    with torch.no_grad():
        prediction = recipes.tiny_unet(unet_seed)(noisy, timesteps, encoder_hidden_states=text_embeddings).sample
    snr_ = solution.compute_snr(alphas_cumprod, timesteps)
    clipped = torch.stack([snr_, snr_gamma * torch.ones_like(timesteps)], dim=1).min(dim=1)[0]
    weights = clipped / snr_ if prediction_type == "epsilon" else clipped / (snr_ + 1)
    per_sample = torch.nn.functional.mse_loss(prediction, target, reduction="none").mean(dim=[1, 2, 3])
    return {"loss": (per_sample * weights).mean(), "noisy": noisy, "target": target}
