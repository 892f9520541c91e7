"""Reference solution for mixed-precision-inference: each stage of Stable Diffusion in fp16 or bf16, with the
VAE upcast the way StableDiffusionXLPipeline does it and a NaN/inf check after every stage."""

import torch


class NonFiniteError(RuntimeError):
    """A stage produced NaN or infinity; ``stage`` names it."""

    def __init__(self, stage, message):
        super().__init__(message)
        self.stage = stage


def check_finite(stage, tensor):
    """Raise NonFiniteError naming ``stage`` when ``tensor`` holds a NaN or an infinity."""
    bad = ~torch.isfinite(tensor)
    if bad.any():
        raise NonFiniteError(stage, f"{stage}: {int(bad.sum())} of {tensor.numel()} values are NaN or infinite "
                                    f"in {tensor.dtype}")


@torch.no_grad()
def encode_prompt(text_encoder, input_ids, dtype):
    text_encoder.to(dtype)
    prompt_embeds = text_encoder(input_ids).last_hidden_state
    check_finite("text_encoder", prompt_embeds)
    return prompt_embeds


@torch.no_grad()
def predict_noise(unet, latents, timestep, prompt_embeds, dtype):
    unet.to(dtype)
    noise_pred = unet(latents.to(dtype), timestep, encoder_hidden_states=prompt_embeds.to(dtype)).sample
    check_finite("unet", noise_pred)
    return noise_pred


@torch.no_grad()
def decode_latents(vae, latents, dtype, force_upcast):
    vae.to(dtype)
    # As StableDiffusionXLPipeline: only fp16 overflows (bf16 has float32's range), so only fp16 is upcast, and
    # the latents follow the VAE to float32 before they are scaled.
    needs_upcasting = dtype == torch.float16 and force_upcast
    if needs_upcasting:
        vae.to(torch.float32)
    latents = latents.to(vae.dtype) / vae.config.scaling_factor
    image = vae.decode(latents).sample
    check_finite("vae", image)
    return image
