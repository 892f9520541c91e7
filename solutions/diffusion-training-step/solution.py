"""Reference solution for diffusion-training-step: one fine-tuning step of a latent diffusion UNet, as
diffusers' train_text_to_image.py takes it, training only the cross-attention keys and values (Custom Diffusion)."""

import torch
import torch.nn.functional as F


def train_only_cross_attention_kv(unet):
    """Freeze the UNet except the key and value projections of its cross-attention layers (attn2)."""
    unet.requires_grad_(False)
    for name, module in unet.named_modules():
        if name.endswith(".attn2"):
            module.to_k.requires_grad_(True)
            module.to_v.requires_grad_(True)


def training_step(unet, scheduler, optimizer, latents, encoder_hidden_states, generator, noise_offset=0.0,
                  snr_gamma=None):
    batch, channels = latents.shape[:2]
    # The draws, in the statement's order, so that the step can be replayed from the generator's seed.
    noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype, device=latents.device)
    if noise_offset:
        # One offset per sample and channel: it shifts the mean, which plain noise never teaches the model.
        noise = noise + noise_offset * torch.randn((batch, channels, 1, 1), generator=generator,
                                                   dtype=latents.dtype, device=latents.device)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (batch,), generator=generator,
                              device=latents.device)

    noisy_latents = scheduler.add_noise(latents, noise, timesteps)
    if scheduler.config.prediction_type == "epsilon":
        target = noise
    elif scheduler.config.prediction_type == "v_prediction":
        target = scheduler.get_velocity(latents, noise, timesteps)
    else:
        raise ValueError(f"unknown prediction type {scheduler.config.prediction_type}")
    prediction = unet(noisy_latents, timesteps, encoder_hidden_states).sample

    if snr_gamma is None:
        loss = F.mse_loss(prediction.float(), target.float(), reduction="mean")
    else:
        # Min-SNR-gamma (Hang et al., 2023): the loss of low-noise timesteps is clipped at SNR = gamma.
        alphas_cumprod = scheduler.alphas_cumprod.to(latents.device)[timesteps]
        snr = alphas_cumprod / (1 - alphas_cumprod)
        clipped = torch.clamp(snr, max=snr_gamma)
        weights = clipped / snr if scheduler.config.prediction_type == "epsilon" else clipped / (snr + 1)
        per_sample = F.mse_loss(prediction.float(), target.float(), reduction="none").mean(
            dim=list(range(1, prediction.ndim)))
        loss = (per_sample * weights).mean()

    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return {"loss": loss.detach(), "timesteps": timesteps}
