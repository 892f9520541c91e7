"""Trusted helpers for lora-cross-attention. Each runs with ``solution`` = the candidate's module (in the
worker) or peft itself (the oracle, in the grader), so both sides do exactly the same thing."""

import tempfile
import zlib
from types import SimpleNamespace

import torch
from diffusers import StableDiffusionPipeline
from peft import LoraConfig, get_peft_model_state_dict

from pytest_diffchallenge import recipes
from pytest_diffchallenge.compare import assert_matches, assert_same_keys

CROSS_ATTENTION_PROJECTIONS = ("to_q", "to_k", "to_v", "to_out.0")
BATCH = 2
TRAINING_STEPS = 3
LEARNING_RATE = 1e-3
# Seeded LoRA weights: A with standard deviation in_features ** -0.5 (B A x then has the size of x), B ten times
# smaller, so the update is a tenth of the layer's input times alpha / rank, as after some fine-tuning. With B
# as large as A, the update outweighs the frozen layer several times over at alpha / rank = 2 to 3.75, attention
# logits grow with its square, and the UNet's output and its training magnify fp32 rounding erratically
# (measured up to 6x the library's own error against float64, between two correct implementations).
B_FILL = 0.1


def _peft_cross_attention_lora(unet, rank, alpha):
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=alpha, target_modules=r".*\.attn2\.(to_q|to_k|to_v|to_out\.0)"))


ORACLE = SimpleNamespace(add_cross_attention_lora=_peft_cross_attention_lora, lora_state_dict=get_peft_model_state_dict)


# -- shared steps, identical on both sides -------------------------------------------------------------------
def cross_attention_linears(unet) -> dict:
    """The Linear layers LoRA must adapt, by module name, in an unadapted UNet."""
    return {f"{name}.{projection}": module.get_submodule(projection) for name, module in unet.named_modules()
            if name.endswith(".attn2") for projection in CROSS_ATTENTION_PROJECTIONS}


def expected_trainable_count(unet_seed, rank, sdxl=False) -> int:
    """rank * (in + out) for every adapted Linear: A is rank x in, B is out x rank."""
    linears = cross_attention_linears(recipes.tiny_unet(unet_seed, sdxl=sdxl)).values()
    return sum(rank * (linear.in_features + linear.out_features) for linear in linears)


def fill_lora_weights(unet, seed):
    """Give every LoRA weight a seeded, non-zero value. The value depends only on the adapted module and on
    A or B, never on how an implementation names or orders its parameters, so both sides get the same."""
    for name, parameter in unet.named_parameters():
        if ".lora_A" not in name and ".lora_B" not in name:
            continue
        module, role = name.split(".lora_")[0], "A" if ".lora_A" in name else "B"
        fan_in = parameter.shape[1]
        value = recipes.seeded_randn(parameter.shape, seed + zlib.crc32(f"{module}.{role}".encode()),
                                     parameter.dtype, scale=fan_in**-0.5 * (B_FILL if role == "B" else 1.0))
        with torch.no_grad():
            parameter.copy_(value)


def unet_inputs(unet, data_seed) -> dict:
    inputs = dict(sample=recipes.seeded_randn((BATCH, 4, 8, 8), data_seed), timestep=torch.tensor([10, 700]),
                  encoder_hidden_states=recipes.seeded_randn((BATCH, 6, unet.config.cross_attention_dim),
                                                             data_seed + 1))
    if unet.config.addition_embed_type == "text_time":  # SDXL's micro-conditioning
        text_embeds = unet.config.projection_class_embeddings_input_dim - 6 * unet.config.addition_time_embed_dim
        inputs["added_cond_kwargs"] = {"text_embeds": recipes.seeded_randn((BATCH, text_embeds), data_seed + 2),
                                       "time_ids": torch.tensor([[64.0, 64.0, 0.0, 0.0, 64.0, 64.0]] * BATCH)}
    return inputs


def _lora_unet(solution, unet_seed, rank, alpha, fill_seed=None, sdxl=False):
    unet = recipes.tiny_unet(unet_seed, sdxl=sdxl)
    solution.add_cross_attention_lora(unet, rank, alpha)
    if fill_seed is not None:
        fill_lora_weights(unet, fill_seed)
    return unet


def _cast(value, dtype):
    """``value`` (a tensor, or a dict of them) with its floating tensors in ``dtype``."""
    if isinstance(value, dict):
        return {key: _cast(item, dtype) for key, item in value.items()}
    return value.to(dtype) if isinstance(value, torch.Tensor) and value.dtype.is_floating_point else value


def _sample(unet, data_seed, dtype=torch.float32):
    with torch.no_grad():
        return unet(**_cast(unet_inputs(unet, data_seed), dtype)).sample


# -- probes --------------------------------------------------------------------------------------------------
def adapted_modules(solution, unet_seed, rank, alpha, sdxl=False):
    """The modules that own LoRA weights (parameters named ``<module>.lora_A...`` / ``.lora_B...``)."""
    unet = _lora_unet(solution, unet_seed, rank, alpha, sdxl=sdxl)
    names = [name for name, _ in unet.named_parameters() if ".lora_A" in name or ".lora_B" in name]
    return {"adapted_modules": sorted({name.split(".lora_")[0] for name in names})}


def frozen_weights(solution, unet_seed, rank, alpha, sdxl=False):
    unet = recipes.tiny_unet(unet_seed, sdxl=sdxl)
    originals = dict(unet.named_parameters())
    solution.add_cross_attention_lora(unet, rank, alpha)
    kept = {id(parameter) for parameter in unet.parameters()}
    return {"trainable_original_weights": sorted(n for n, p in originals.items() if p.requires_grad),
            "original_weights_no_longer_in_the_unet": sorted(n for n, p in originals.items() if id(p) not in kept)}


def trainable_count(solution, unet_seed, rank, alpha, sdxl=False):
    unet = _lora_unet(solution, unet_seed, rank, alpha, sdxl=sdxl)
    return {"trainable_parameters": sum(p.numel() for p in unet.parameters() if p.requires_grad)}


def initial_lora(solution, unet_seed, rank, alpha, sdxl=False):
    """The LoRA weights as initialised: the adapted modules whose A is all zero, and those whose B is not."""
    unet = _lora_unet(solution, unet_seed, rank, alpha, sdxl=sdxl)
    weights = {role: {name.split(".lora_")[0]: parameter.detach() for name, parameter in unet.named_parameters()
                      if f".lora_{role}" in name} for role in "AB"}
    return {"modules_with_zero_A": sorted(module for module, a in weights["A"].items() if not a.any()),
            "modules_with_nonzero_B": sorted(module for module, b in weights["B"].items() if b.any())}


def unet_output(solution, unet_seed, rank, alpha, data_seed, fill_seed=None, sdxl=False):
    """The adapted UNet's output: as initialised (fill_seed None) or with seeded non-zero LoRA weights."""
    return {"sample": _sample(_lora_unet(solution, unet_seed, rank, alpha, fill_seed, sdxl), data_seed)}


def training(solution, unet_seed, rank, alpha, data_seed, fill_seed, dtype=torch.float32):
    """A few AdamW steps over ALL the UNet's parameters, in train mode: frozen ones must not move. The float64
    truth (``dtype``) casts the adapted, filled UNet (the same Parameter objects) and trains it in fp64."""
    unet = recipes.tiny_unet(unet_seed)
    originals = dict(unet.named_parameters())
    original_values = {name: parameter.detach().clone() for name, parameter in originals.items()}
    solution.add_cross_attention_lora(unet, rank, alpha)
    fill_lora_weights(unet, fill_seed)
    unet.to(dtype)
    lora_values = {n: p.detach().clone() for n, p in unet.named_parameters() if ".lora_" in n}

    inputs = _cast(unet_inputs(unet, data_seed), dtype)
    target = recipes.seeded_randn((BATCH, 4, 8, 8), data_seed + 3, dtype)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=LEARNING_RATE)
    losses = []
    unet.train()
    for _ in range(TRAINING_STEPS):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(unet(**inputs).sample, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    unet.eval()

    return {"changed_original_weights": sorted(n for n, p in originals.items() if not torch.equal(
                p.detach().to(original_values[n].dtype), original_values[n])),
            "lora_weights_changed": any(not torch.equal(p.detach(), lora_values[n])
                                        for n, p in unet.named_parameters() if n in lora_values),
            "losses": torch.stack(losses), "sample_after_training": _sample(unet, data_seed, dtype)}


def adapter_metadata(tensors, rank, alpha) -> dict:
    """The LoRA config that diffusers' training scripts save beside the weights (``unet_lora_adapter_metadata``):
    a state dict holds only tensors, and without it the loader would assume alpha == rank."""
    return {"r": rank, "lora_alpha": alpha, "target_modules": sorted({key.split(".lora")[0] for key in tensors})}


def state_dict(solution, unet_seed, rank, alpha, fill_seed, sdxl=False):
    """What diffusers' loader makes of ``lora_state_dict``: it is loaded into a fresh UNet with
    ``load_lora_adapter`` (the step ``load_lora_weights`` runs), and read back in peft's key format."""
    unet = _lora_unet(solution, unet_seed, rank, alpha, fill_seed, sdxl)
    tensors = dict(solution.lora_state_dict(unet))
    fresh = recipes.tiny_unet(unet_seed, sdxl=sdxl)
    fresh.load_lora_adapter(tensors, prefix=None, adapter_name="loaded",
                            metadata=adapter_metadata(tensors, rank, alpha))
    return {"state_dict": get_peft_model_state_dict(fresh, adapter_name="loaded")}


def _images(pipeline, prompt, seed, dtype):
    """Two DDIM steps (eta 0: no noise drawn) from seeded initial latents, drawn in fp32 and cast, so that the
    float64 truth starts from the same latents (a generator draws other numbers in fp64)."""
    pipeline.to(dtype)
    latents = recipes.seeded_randn((1, 4, 16, 16), seed, dtype)
    return pipeline(prompt, num_inference_steps=2, height=32, width=32, guidance_scale=5.0, latents=latents,
                    output_type="pt").images


def round_trip(solution, model_seed, rank, alpha, fill_seed, prompt, seed, dtype=torch.float32):
    """Images of a tiny pipeline with the solution's LoRA, and of a fresh pipeline into which
    ``load_lora_weights`` loaded what ``save_lora_weights`` wrote from ``lora_state_dict``. Everything is
    built in fp32; the float64 truth (``dtype``) casts each pipeline right before it runs (the weights it saves
    and loads hold fp32 values either way)."""
    pipeline = recipes.tiny_sd_pipeline(model_seed)
    solution.add_cross_attention_lora(pipeline.unet, rank, alpha)
    fill_lora_weights(pipeline.unet, fill_seed)
    images = _images(pipeline, prompt, seed, dtype)

    tensors = dict(solution.lora_state_dict(pipeline.unet))
    fresh = recipes.tiny_sd_pipeline(model_seed)
    with tempfile.TemporaryDirectory() as folder:
        StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=tensors,
                                                  unet_lora_adapter_metadata=adapter_metadata(tensors, rank, alpha))
        fresh.load_lora_weights(folder)
    return {"images": images, "reloaded_images": _images(fresh, prompt, seed, dtype)}


# -- checks the grader runs on replies (not probes) -----------------------------------------------------------
def assert_state_dicts_match(got: dict, expected: dict) -> None:
    """Same keys, and bitwise the same tensors: both sides hold the same seeded values, nothing is computed."""
    assert_same_keys(got, expected, name="LoRA weights loaded from lora_state_dict")
    for key, tensor in expected.items():
        assert_matches(got[key], tensor, rtol=0, atol=0, name=f"{key} (as loaded from lora_state_dict)")
