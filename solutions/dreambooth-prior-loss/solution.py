"""Reference solution for dreambooth-prior-loss: DreamBooth's prior-preservation loss (Ruiz et al., 2023) as
diffusers' examples/dreambooth/train_dreambooth.py computes it on a batch of instance examples then class examples."""

import torch


def _target(latents, noise, timesteps, alphas_cumprod, prediction_type):
    if prediction_type == "epsilon":
        return noise
    if prediction_type == "v_prediction":
        # v = sqrt(alpha_bar_t) noise - sqrt(1 - alpha_bar_t) x_0, one alpha_bar_t per sample (Salimans & Ho, 2022)
        alpha_bar = alphas_cumprod.to(latents.device, torch.float32)[timesteps.to(latents.device)]
        alpha_bar = alpha_bar.reshape(-1, *[1] * (latents.ndim - 1))
        return alpha_bar.sqrt() * noise.float() - (1 - alpha_bar).sqrt() * latents.float()
    raise ValueError(f"unknown prediction_type {prediction_type!r}: expected 'epsilon' or 'v_prediction'")


def _mse(prediction, target):
    return ((prediction.float() - target.float()) ** 2).mean()


def dreambooth_loss(model_pred, latents, noise, timesteps, alphas_cumprod, prediction_type="epsilon",
                    with_prior_preservation=True, prior_loss_weight=1.0):
    if model_pred.shape[1] == 2 * latents.shape[1]:
        # a model that also learns the variance: only the first half of its channels predicts the target
        model_pred = model_pred[:, : latents.shape[1]]
    target = _target(latents, noise, timesteps, alphas_cumprod, prediction_type)
    if not with_prior_preservation:
        loss = _mse(model_pred, target)
        return {"loss": loss, "instance_loss": loss, "prior_loss": None}
    # the batch is the instance examples followed by as many class examples
    instances = model_pred.shape[0] // 2
    instance_loss = _mse(model_pred[:instances], target[:instances])
    prior_loss = _mse(model_pred[instances:], target[instances:])
    return {"loss": instance_loss + prior_loss_weight * prior_loss, "instance_loss": instance_loss,
            "prior_loss": prior_loss}
