"""Trusted helpers for fit-sdxl-8gb. Each runs with ``solution`` = the candidate's module (in the worker) or ORACLE
(in the grader). The candidate gets ``load``, which builds one seeded component directly on the device in the
pipeline's dtype, so that loading counts in the measured memory exactly as it does on a card.

On a GPU the components are SDXL base's real architecture (2.57 B UNet parameters) in float16 at 1024 px, and the
probe caps the worker at an emulated 8 GiB card. On the CPU they are the same architecture scaled down (channels
and widths about a tenth, fewer transformer layers) in float32 at 64 px: the text encoders are 16% of the plain
pipeline's peak there (17% on the card), and the ceiling is 8 / 8.99 of that peak, as 8 GiB is of the card's."""

import math
from types import SimpleNamespace

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from pytest_diffchallenge import figures, recipes
from pytest_diffchallenge.worker.memory import phase

CARD_BYTES = 8 * 1024**3
STEPS = 3
COMPONENTS = ("tokenizer", "tokenizer_2", "text_encoder", "text_encoder_2", "unet", "vae", "scheduler")
# Weights are drawn afresh for each call from its data seed: nothing kept from an earlier call can stand in for them.
WEIGHT_SEEDS = {"unet": 0, "vae": 1, "text_encoder": 2, "text_encoder_2": 3}
PSNR_BOUND_DB = 40.0

# SDXL base 1.0's configs, and their CPU scale model. The tokenizer is the kit's tiny one: its ids are valid in both.
SCALES = {
    "cuda": dict(
        size=1024, dtype=torch.float16,
        text_encoder=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                          hidden_act="quick_gelu", projection_dim=768, vocab_size=49408),
        text_encoder_2=dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
                            hidden_act="gelu", projection_dim=1280, vocab_size=49408),
        unet=dict(block_out_channels=(320, 640, 1280), attention_head_dim=(5, 10, 20),
                  transformer_layers_per_block=(1, 2, 10), cross_attention_dim=2048, addition_time_embed_dim=256,
                  projection_class_embeddings_input_dim=2816, sample_size=128),
        vae=dict(block_out_channels=(128, 256, 512, 512), norm_num_groups=32, sample_size=1024)),
    "cpu": dict(
        size=64, dtype=torch.float32,
        text_encoder=dict(hidden_size=64, intermediate_size=256, num_hidden_layers=6, num_attention_heads=4,
                          hidden_act="quick_gelu", projection_dim=64),
        text_encoder_2=dict(hidden_size=128, intermediate_size=512, num_hidden_layers=8, num_attention_heads=8,
                            hidden_act="gelu", projection_dim=128),
        unet=dict(block_out_channels=(32, 64, 128), attention_head_dim=(2, 4, 8),
                  transformer_layers_per_block=(1, 1, 2), cross_attention_dim=192, addition_time_embed_dim=32,
                  projection_class_embeddings_input_dim=320, sample_size=8),
        vae=dict(block_out_channels=(16, 32, 32, 32), norm_num_groups=8, sample_size=64)),
}


def scale(device: str) -> dict:
    return SCALES["cuda" if device.startswith("cuda") else "cpu"]


def _build(name: str, device: str, data_seed: int):
    if name in ("tokenizer", "tokenizer_2"):
        return recipes.tiny_tokenizer()
    if name == "scheduler":
        return EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                      steps_offset=1, timestep_spacing="leading")
    config = scale(device)
    torch.manual_seed(len(WEIGHT_SEEDS) * data_seed + WEIGHT_SEEDS[name])
    previous = torch.get_default_dtype()
    torch.set_default_dtype(config["dtype"])  # built in the pipeline's dtype: never a float32 copy first
    try:
        with torch.device(device):
            if name.startswith("text_encoder"):
                tokenizer = recipes.tiny_tokenizer()
                text_config = CLIPTextConfig(
                    bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                    pad_token_id=tokenizer.pad_token_id, max_position_embeddings=recipes.TOKENIZER_LENGTH,
                    **{"vocab_size": len(tokenizer), **config[name]})
                model_class = CLIPTextModelWithProjection if name == "text_encoder_2" else CLIPTextModel
                return model_class(text_config).eval()
            if name == "unet":
                return UNet2DConditionModel(
                    in_channels=4, out_channels=4, layers_per_block=2, use_linear_projection=True,
                    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                    addition_embed_type="text_time", **config["unet"]).eval()
            return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
                                 down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                                 scaling_factor=0.13025, force_upcast=True, **config["vae"]).eval()
    finally:
        torch.set_default_dtype(previous)


class Loader:
    """``load(name)``: a freshly built component, on the device, in the pipeline's dtype.

    It marks the phases of the measured call for the reports' memory timeline (never for the grade): each model's
    loading, then, by hooks on the models whatever pipeline runs them, the prompt's encoding, each denoising step
    (a new timestep reaching the UNet) and the decode."""

    def __init__(self, device: str, data_seed: int):
        self.device, self.data_seed = device, data_seed
        self.marked: set[str] = set()
        self.timesteps: list[float] = []

    def __call__(self, name: str):
        if name not in COMPONENTS:
            raise KeyError(f"no component {name!r}: the pipeline has {', '.join(COMPONENTS)}")
        if name in WEIGHT_SEEDS:
            phase(f"load {name}")
        component = _build(name, self.device, self.data_seed)
        if name.startswith("text_encoder"):
            component.register_forward_pre_hook(lambda module, args: self._mark_once("encode"))
        elif name == "unet":
            component.register_forward_pre_hook(self._mark_step, with_kwargs=True)
        elif name == "vae":
            component.decoder.register_forward_pre_hook(lambda module, args: self._mark_once("decode"))
        return component

    def _mark_once(self, label: str) -> None:
        if label not in self.marked:
            self.marked.add(label)
            phase(label)

    def _mark_step(self, module, args, kwargs) -> None:
        timestep = args[1] if len(args) > 1 else kwargs.get("timestep")
        if timestep is not None:  # a guidance batch split in two calls is one step: the same timestep
            value = float(torch.as_tensor(timestep).flatten()[0])
            if not self.timesteps or value != self.timesteps[-1]:
                self.timesteps.append(value)
                phase(f"step {len(self.timesteps)}")


def _plain_pipeline(load, prompt, *, height, width, num_inference_steps, guidance_scale, generator):
    """The library's pipeline with every component loaded at once: what does not fit on the card."""
    pipeline = StableDiffusionXLPipeline(**{name: load(name) for name in COMPONENTS}, add_watermarker=False)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline(prompt, height=height, width=width, num_inference_steps=num_inference_steps,
                    guidance_scale=guidance_scale, generator=generator, output_type="pt").images


ORACLE = SimpleNamespace(generate=_plain_pipeline)


_warmed_up: set[str] = set()


def _warm_up(device: str) -> None:
    """Run the plain pipeline once per process before anything is measured: the first run's one-time costs (the
    libraries' lazy set-up, the allocator's arenas) grew the worker by 43 MiB more than later runs did."""
    if device not in _warmed_up:
        size = scale(device)["size"]
        _plain_pipeline(Loader(device, 0), "", height=size, width=size, num_inference_steps=1, guidance_scale=5.0,
                        generator=torch.Generator(device).manual_seed(0))
        _warmed_up.add(device)


def generate(solution, *, prompt: str, data_seed: int, guidance_scale: float, height: int | None = None,
             width: int | None = None, device: str = "cpu"):
    """The candidate's whole generation, loading included: what the memory ceiling and the runtime budget measure."""
    size = scale(device)["size"]
    _warm_up(device)
    load, generator = Loader(device, data_seed), torch.Generator(device).manual_seed(data_seed)

    def run():
        if device.startswith("cuda") and solution is not ORACLE:
            # The emulated card: allocations past 8 GiB fail as they would there. The grade reads the peak.
            total = torch.cuda.get_device_properties(device).total_memory
            torch.cuda.set_per_process_memory_fraction(min(1.0, CARD_BYTES / total), device)
        image = solution.generate(load, prompt, height=height or size, width=width or size,
                                  num_inference_steps=STEPS, guidance_scale=guidance_scale, generator=generator)
        return {"image": image.cpu() if isinstance(image, torch.Tensor) else image}

    return run


def judge_image(got: dict, want: dict) -> float:
    """The candidate's image against the plain pipeline's: same shape and dtype, PSNR at least PSNR_BOUND_DB."""
    image, expected = got["image"], want["image"]
    if not isinstance(image, torch.Tensor):
        raise AssertionError(f"generate returned {type(image).__name__}, not a tensor (output_type='pt')")
    if image.shape != expected.shape or image.dtype != expected.dtype:
        raise AssertionError(f"the image is {image.dtype} {tuple(image.shape)}; the pipeline's is "
                             f"{expected.dtype} {tuple(expected.shape)}")
    error = (image.double() - expected.double()).pow(2).mean().item()
    psnr = float("inf") if error == 0 else 10 * math.log10(1 / error)  # both in [0, 1]
    figures.record("psnr_db", round(min(psnr, 999.0), 2))
    if not psnr >= PSNR_BOUND_DB:
        raise AssertionError(f"the image is {psnr:.1f} dB from the plain pipeline's, under the {PSNR_BOUND_DB:g} dB "
                             f"bound: not the same computation")
    return psnr
