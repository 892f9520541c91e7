"""dreambooth-prior-loss: the starter. See README.md."""

import torch


def dreambooth_loss(model_pred: torch.Tensor, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor,
                    alphas_cumprod: torch.Tensor, prediction_type: str = "epsilon",
                    with_prior_preservation: bool = True, prior_loss_weight: float = 1.0) -> dict:
    raise NotImplementedError("dreambooth_loss is not implemented yet: build the target for prediction_type, split the "
                              "batch into its instance and class halves, and return loss, instance_loss and "
                              "prior_loss (see README.md)")
