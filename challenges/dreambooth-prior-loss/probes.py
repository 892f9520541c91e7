"""Trusted helpers for dreambooth-prior-loss. Each runs with ``solution`` = the candidate's module (in the worker)
or ``ORACLE`` (in the grader): diffusers' DreamBooth training script's own loss computation."""

from types import SimpleNamespace

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler

from pytest_diffchallenge import recipes

SCHEDULE = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)  # Stable Diffusion's
TEXT_TOKENS = 6


def scheduler_with(alphas_cumprod):
    scheduler = DDPMScheduler(**SCHEDULE)
    scheduler.alphas_cumprod = alphas_cumprod.clone()
    return scheduler


def _upcast(tensor):
    # the script's .float(); a float64 tensor (the truth run) stays float64, so that run is exact
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


def script_loss(model_pred, latents, noise, timesteps, alphas_cumprod, prediction_type="epsilon",
                with_prior_preservation=True, prior_loss_weight=1.0):
    """The loss lines of diffusers' examples/dreambooth/train_dreambooth.py (without snr_gamma). The script
    splits only 6 channels (DeepFloyd IF's 3-channel pixels with learned variance): here any doubled width."""
    noise_scheduler = scheduler_with(alphas_cumprod)
    if model_pred.shape[1] == 2 * latents.shape[1]:
        model_pred, _ = torch.chunk(model_pred, 2, dim=1)
    if prediction_type == "epsilon":
        target = noise
    elif prediction_type == "v_prediction":
        target = noise_scheduler.get_velocity(latents, noise, timesteps)
    else:
        raise ValueError(f"Unknown prediction type {prediction_type}")
    prior_loss = None
    if with_prior_preservation:
        model_pred, model_pred_prior = torch.chunk(model_pred, 2, dim=0)
        target, target_prior = torch.chunk(target, 2, dim=0)
        prior_loss = F.mse_loss(_upcast(model_pred_prior), _upcast(target_prior), reduction="mean")
    instance_loss = F.mse_loss(_upcast(model_pred), _upcast(target), reduction="mean")
    loss = instance_loss + prior_loss_weight * prior_loss if with_prior_preservation else instance_loss
    return {"loss": loss, "instance_loss": instance_loss, "prior_loss": prior_loss}


ORACLE = SimpleNamespace(dreambooth_loss=script_loss)


def alphas_cumprod(**schedule):
    return DDPMScheduler(**{**SCHEDULE, **schedule}).alphas_cumprod


def batch(seed, examples, channels, height, width, output_channels=None, dtype=torch.float32):
    """A training batch of ``examples`` samples: clean latents, noise, a model output (``output_channels`` wide,
    default ``channels``) and one timestep per sample, the first and last of the schedule included."""
    generator = torch.Generator().manual_seed(seed)
    timesteps = torch.randint(0, 1000, (examples,), generator=generator)
    timesteps[0], timesteps[-1] = 999, 0
    shape = (examples, channels, height, width)
    return dict(latents=recipes.seeded_randn(shape, seed, dtype), noise=recipes.seeded_randn(shape, seed + 1, dtype),
                model_pred=recipes.seeded_randn((examples, output_channels or channels, height, width), seed + 2,
                                                dtype),
                timesteps=timesteps)


def loss(solution, model_pred, latents, noise, timesteps, alphas_cumprod, **options):
    """The losses, and the gradient of the total loss with respect to the model output (it must train)."""
    model_pred = model_pred.clone().requires_grad_(True)
    result = solution.dreambooth_loss(model_pred, latents, noise, timesteps, alphas_cumprod, **options)
    result["loss"].backward()
    return {"loss": result["loss"], "instance_loss": result["instance_loss"], "prior_loss": result["prior_loss"],
            "model_pred_grad": model_pred.grad}


def refusal(solution, prediction_type, model_pred, latents, noise, timesteps, alphas_cumprod):
    """Whether an unsupported prediction_type raises ValueError (any other exception fails the test as it is)."""
    try:
        solution.dreambooth_loss(model_pred, latents, noise, timesteps, alphas_cumprod, prediction_type)
    except ValueError:
        return {"raised_value_error": True}
    return {"raised_value_error": False}


def dreambooth_step(solution, unet_seed, instance_latents, class_latents, noise, timesteps, instance_embeddings,
                    class_embeddings, prediction_type, prior_loss_weight):
    """One DreamBooth step with a tiny UNet: instance examples and class examples in one batch, as the script's
    collate_fn builds it, noised by the scheduler; the UNet's prediction goes to the loss."""
    latents = torch.cat([instance_latents, class_latents])
    encoder_hidden_states = torch.cat([instance_embeddings, class_embeddings])
    schedule = alphas_cumprod()
    noisy = scheduler_with(schedule).add_noise(latents, noise, timesteps)
    with torch.no_grad():
        model_pred = recipes.tiny_unet(unet_seed)(noisy, timesteps, encoder_hidden_states).sample
    return loss(solution, model_pred, latents, noise, timesteps, schedule, prediction_type=prediction_type,
                prior_loss_weight=prior_loss_weight)
