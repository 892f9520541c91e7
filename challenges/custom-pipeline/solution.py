"""custom-pipeline: a text-to-image DiffusionPipeline of your own. See README.md."""

import torch
from diffusers import DiffusionPipeline


class CustomPipeline(DiffusionPipeline):
    def __init__(self, vae, text_encoder, tokenizer, unet, scheduler):
        super().__init__()
        raise NotImplementedError(
            "CustomPipeline is not implemented yet: register the five components so that save_pretrained, "
            "from_pretrained and .to() see them (see README.md)")

    @torch.no_grad()
    def __call__(self, prompt, num_inference_steps=50, guidance_scale=7.5, negative_prompt=None, height=None,
                 width=None, generator=None, latents=None, output_type="pt", callback_on_step_end=None,
                 callback_on_step_end_tensor_inputs=("latents",), return_dict=True):
        raise NotImplementedError("CustomPipeline.__call__ is not implemented yet (see README.md)")
