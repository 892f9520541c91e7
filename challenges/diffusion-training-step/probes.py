"""Trusted helpers for diffusion-training-step. Each runs with ``solution`` = the candidate's module (in the
worker) or ORACLE (in the grader): both sides build the same tiny seeded UNet, scheduler, optimizer and batches,
hand them over, and report what the steps did to the UNet."""

from types import SimpleNamespace

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from diffusers.training_utils import compute_snr

from pytest_diffchallenge import recipes

BATCH = 4
LATENT_SHAPE = (4, 8, 8)
TEXT_TOKENS = 6
STEPS = 2
# SGD with momentum: the update is proportional to the gradient (AdamW's first step is sign-like and turns
# gradients within rounding of zero into full-size steps), and momentum carries the first step into the second.
LEARNING_RATE, MOMENTUM = 0.5, 0.9
TRAINED_PROJECTIONS = ("to_k", "to_v")


def _freeze_all_but_cross_attention_kv(unet):
    for name, parameter in unet.named_parameters():
        parameter.requires_grad_(is_cross_attention_kv(name))


def _library_training_step(unet, scheduler, optimizer, latents, encoder_hidden_states, generator, noise_offset=0.0,
                           snr_gamma=None):
    """train_text_to_image.py's step, with the draws from ``generator`` in the statement's order."""
    options = dict(generator=generator, dtype=latents.dtype, device=latents.device)
    noise = torch.randn(latents.shape, **options)
    if noise_offset:
        noise += noise_offset * torch.randn((latents.shape[0], latents.shape[1], 1, 1), **options)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],), generator=generator,
                              device=latents.device)
    noisy_latents = scheduler.add_noise(latents, noise, timesteps)
    if scheduler.config.prediction_type == "epsilon":
        target = noise
    elif scheduler.config.prediction_type == "v_prediction":
        target = scheduler.get_velocity(latents, noise, timesteps)
    else:
        raise ValueError(f"Unknown prediction type {scheduler.config.prediction_type}")
    prediction = unet(noisy_latents, timesteps, encoder_hidden_states, return_dict=False)[0]
    if snr_gamma is None:
        loss = F.mse_loss(prediction.float(), target.float(), reduction="mean")
    else:
        snr = compute_snr(scheduler, timesteps)
        weights = torch.stack([snr, snr_gamma * torch.ones_like(timesteps)], dim=1).min(dim=1)[0]
        weights = weights / snr if scheduler.config.prediction_type == "epsilon" else weights / (snr + 1)
        loss = F.mse_loss(prediction.float(), target.float(), reduction="none")
        loss = (loss.mean(dim=list(range(1, len(loss.shape)))) * weights).mean()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return {"loss": loss.detach(), "timesteps": timesteps}


ORACLE = SimpleNamespace(train_only_cross_attention_kv=_freeze_all_but_cross_attention_kv,
                         training_step=_library_training_step)


def is_cross_attention_kv(name) -> bool:
    """Whether a parameter of the UNet is a key or value projection weight of a cross-attention layer."""
    return any(f".attn2.{projection}." in name for projection in TRAINED_PROJECTIONS)


def trainable_parameters(solution, unet_seed, sdxl=False):
    """What ``train_only_cross_attention_kv`` leaves trainable, by name."""
    unet = recipes.tiny_unet(unet_seed, sdxl=sdxl)
    solution.train_only_cross_attention_kv(unet)
    return {"trainable": sorted(name for name, parameter in unet.named_parameters() if parameter.requires_grad)}


def batch(data_seed, step) -> dict:
    """The step's clean latents and text embeddings, the same on both sides."""
    seed = data_seed + 2 * step
    return dict(latents=recipes.seeded_randn((BATCH, *LATENT_SHAPE), seed),
                encoder_hidden_states=recipes.seeded_randn((BATCH, TEXT_TOKENS, recipes.TEXT_DIM), seed + 1))


def training(solution, unet_seed, data_seed, generator_seed, prediction_type, num_train_timesteps=1000,
             noise_offset=None, snr_gamma=None):
    """``STEPS`` training steps of the tiny UNet after ``train_only_cross_attention_kv``, one generator for all
    of them, an SGD optimizer over all the UNet's parameters (frozen ones have no gradient, so it skips them).
    Reports each step's loss and timesteps, the trained weights' total update, the names of the other
    parameters that moved, and of those left with a gradient."""
    unet = recipes.tiny_unet(unet_seed)
    initial = {name: parameter.detach().clone() for name, parameter in unet.named_parameters()}
    solution.train_only_cross_attention_kv(unet)
    scheduler = DDPMScheduler(num_train_timesteps=num_train_timesteps, beta_start=0.00085, beta_end=0.012,
                              beta_schedule="scaled_linear", prediction_type=prediction_type)
    optimizer = torch.optim.SGD(unet.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    generator = torch.Generator().manual_seed(generator_seed)
    # An option the test leaves out is left out of the call: the defaults are graded too.
    options = {name: value for name, value in (("noise_offset", noise_offset), ("snr_gamma", snr_gamma))
               if value is not None}
    replies = [solution.training_step(unet, scheduler, optimizer, **batch(data_seed, step), generator=generator,
                                      **options) for step in range(STEPS)]

    parameters = dict(unet.named_parameters())
    trained = sorted(name for name in parameters if is_cross_attention_kv(name))
    return {"losses": torch.stack([torch.as_tensor(reply["loss"]).detach().float().reshape(()) for reply in replies]),
            "timesteps": torch.stack([torch.as_tensor(reply["timesteps"]).long() for reply in replies]),
            "kv_updates": torch.cat([(parameters[name].detach() - initial[name]).flatten() for name in trained]),
            "moved_frozen_parameters": sorted(name for name, parameter in parameters.items()
                                              if not is_cross_attention_kv(name)
                                              and not torch.equal(parameter.detach(), initial[name])),
            "parameters_with_gradients": sorted(name for name, parameter in parameters.items()
                                                if parameter.grad is not None and parameter.grad.any())}


def unknown_prediction_type(solution, prediction_type):
    """A step with a scheduler whose prediction type is neither epsilon nor v_prediction: what it raises."""
    unet = recipes.tiny_unet(0)
    solution.train_only_cross_attention_kv(unet)
    scheduler = DDPMScheduler(prediction_type=prediction_type)
    optimizer = torch.optim.SGD(unet.parameters(), lr=LEARNING_RATE)
    try:
        solution.training_step(unet, scheduler, optimizer, **batch(0, 0), generator=torch.Generator().manual_seed(0))
    except ValueError:
        return {"raised": "ValueError"}
    return {"raised": None}
