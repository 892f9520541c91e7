"""mixed-precision-inference: run each Stable Diffusion stage in fp16 or bf16, safely. See README.md."""

import torch


class NonFiniteError(RuntimeError):
    """A stage produced NaN or infinity; ``stage`` names it. Given: raise it, do not change it."""

    def __init__(self, stage, message):
        super().__init__(message)
        self.stage = stage


def check_finite(stage, tensor):
    raise NotImplementedError("check_finite is not implemented yet: raise NonFiniteError(stage, message) when the "
                              "tensor holds a NaN or an infinity (see README.md)")


@torch.no_grad()
def encode_prompt(text_encoder, input_ids, dtype):
    raise NotImplementedError("encode_prompt is not implemented yet: run the text encoder in dtype and return its "
                              "last hidden state, checked with check_finite (see README.md)")


@torch.no_grad()
def predict_noise(unet, latents, timestep, prompt_embeds, dtype):
    raise NotImplementedError("predict_noise is not implemented yet: run the UNet in dtype and return its noise "
                              "prediction, checked with check_finite (see README.md)")


@torch.no_grad()
def decode_latents(vae, latents, dtype, force_upcast):
    raise NotImplementedError("decode_latents is not implemented yet: decode in dtype, or in float32 for an fp16 "
                              "VAE with force_upcast as StableDiffusionXLPipeline does (see README.md)")
