"""cfg-sampling-loop: write StableDiffusionPipeline's denoising loop yourself. See README.md."""



def rescale_noise_cfg(noise_cfg, noise_pred_text, guidance_rescale=0.0):
    raise NotImplementedError("rescale_noise_cfg: match the guided prediction's per-sample std to the text "
                              "prediction's, then mix by guidance_rescale (see README.md)")


def generate(pipeline, prompt, negative_prompt=None, height=32, width=32, num_inference_steps=4, guidance_scale=7.5,
             guidance_rescale=0.0, num_images_per_prompt=1, eta=0.0, generator=None):
    raise NotImplementedError("generate: encode the prompts, draw the initial latents, then run the denoising "
                              "loop with classifier-free guidance; return the final latents (see README.md)")
