"""Reference: encode the prompt, take the text encoders off the device, then denoise and decode.

The plain pipeline holds all four models from the start, and its peak is the VAE decode on top of them. The text
encoders are needed only for the first moment: with them gone, the UNet and the VAE fit under the card."""

import torch
from diffusers import StableDiffusionXLPipeline


def generate(load, prompt, *, height, width, num_inference_steps, guidance_scale, generator):
    with torch.no_grad():
        encoder = StableDiffusionXLPipeline(
            vae=None, unet=None, text_encoder=load("text_encoder"), text_encoder_2=load("text_encoder_2"),
            tokenizer=load("tokenizer"), tokenizer_2=load("tokenizer_2"), scheduler=load("scheduler"))
        embeds, negative_embeds, pooled, negative_pooled = encoder.encode_prompt(prompt)
        del encoder  # it holds the only references to the text encoders: their memory is free from here

        pipeline = StableDiffusionXLPipeline(
            vae=load("vae"), unet=load("unet"), text_encoder=None, text_encoder_2=None, tokenizer=None,
            tokenizer_2=None, scheduler=load("scheduler"), add_watermarker=False)
        return pipeline(prompt_embeds=embeds, negative_prompt_embeds=negative_embeds, pooled_prompt_embeds=pooled,
                        negative_pooled_prompt_embeds=negative_pooled, height=height, width=width,
                        num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, generator=generator,
                        output_type="pt").images
