"""Reference solution for custom-pipeline: a text-to-image DiffusionPipeline with the library's lifecycle."""

import torch
from diffusers import DiffusionPipeline, ImagePipelineOutput
from diffusers.image_processor import VaeImageProcessor
from diffusers.utils.torch_utils import randn_tensor


class CustomPipeline(DiffusionPipeline):
    model_cpu_offload_seq = "text_encoder->unet->vae"
    _callback_tensor_inputs = ["latents"]

    def __init__(self, vae, text_encoder, tokenizer, unet, scheduler):
        super().__init__()
        # Registered modules are what save_pretrained writes, from_pretrained loads and .to() moves.
        self.register_modules(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler)
        self.vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.image_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale_factor)

    def _embed(self, texts):
        tokens = self.tokenizer(texts, padding="max_length", max_length=self.tokenizer.model_max_length,
                                truncation=True, return_tensors="pt")
        return self.text_encoder(tokens.input_ids.to(self.device))[0].to(self.text_encoder.dtype)

    @torch.no_grad()
    def __call__(self, prompt, num_inference_steps=50, guidance_scale=7.5, negative_prompt=None, height=None,
                 width=None, generator=None, latents=None, output_type="pt", callback_on_step_end=None,
                 callback_on_step_end_tensor_inputs=("latents",), return_dict=True):
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        batch_size = len(prompts)
        height = height or self.unet.config.sample_size * self.vae_scale_factor
        width = width or self.unet.config.sample_size * self.vae_scale_factor
        do_classifier_free_guidance = guidance_scale > 1.0
        unknown = set(callback_on_step_end_tensor_inputs) - set(self._callback_tensor_inputs)
        if unknown:
            raise ValueError(f"callbacks may only receive {self._callback_tensor_inputs}, not {sorted(unknown)}")

        # 1. text embeddings, negative (unconditional) first when guiding; no negative prompt means ""
        prompt_embeds = self._embed(prompts)
        if do_classifier_free_guidance:
            negatives = negative_prompt if isinstance(negative_prompt, list) else [negative_prompt or ""] * batch_size
            prompt_embeds = torch.cat([self._embed(negatives), prompt_embeds])

        # 2. timesteps and initial noise, in the pipeline's dtype and on its device
        self.scheduler.set_timesteps(num_inference_steps, device=self.device)
        timesteps = self.scheduler.timesteps
        shape = (batch_size, self.unet.config.in_channels, height // self.vae_scale_factor,
                 width // self.vae_scale_factor)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=self.device, dtype=prompt_embeds.dtype)
        latents = latents.to(self.device, prompt_embeds.dtype) * self.scheduler.init_noise_sigma

        # 3. the denoising loop, with a progress bar and a step-end callback that may replace tensors
        with self.progress_bar(total=len(timesteps)) as progress_bar:
            for i, t in enumerate(timesteps):
                model_input = torch.cat([latents] * 2) if do_classifier_free_guidance else latents
                model_input = self.scheduler.scale_model_input(model_input, t)
                noise_pred = self.unet(model_input, t, encoder_hidden_states=prompt_embeds, return_dict=False)[0]
                if do_classifier_free_guidance:
                    noise_uncond, noise_text = noise_pred.chunk(2)
                    noise_pred = noise_uncond + guidance_scale * (noise_text - noise_uncond)
                latents = self.scheduler.step(noise_pred, t, latents, generator=generator, return_dict=False)[0]

                if callback_on_step_end is not None:
                    outputs = callback_on_step_end(self, i, t, {"latents": latents})
                    latents = outputs.pop("latents", latents)
                progress_bar.update()

        # 4. decode, unless latents are asked for
        if output_type == "latent":
            images = latents
        else:
            decoded = self.vae.decode(latents / self.vae.config.scaling_factor, return_dict=False)[0]
            images = self.image_processor.postprocess(decoded, output_type=output_type)
        self.maybe_free_model_hooks()
        return ImagePipelineOutput(images=images) if return_dict else (images,)
