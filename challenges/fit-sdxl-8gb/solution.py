"""fit-sdxl-8gb: generate an SDXL image on a card too small for the plain pipeline. See README.md."""


def generate(load, prompt, *, height, width, num_inference_steps, guidance_scale, generator):
    """Return what ``StableDiffusionXLPipeline(...)(prompt, ..., output_type="pt").images`` returns, with every
    component built by ``load(name)`` and the peak memory of the whole call within the card."""
    raise NotImplementedError("generate: load the components with load(name), and keep the peak under the card")
