"""Reference solution for lora-cross-attention: LoRA (Hu et al., 2021) on the UNet's cross-attention
projections only, through peft, the library diffusers' own LoRA training scripts use."""

import torch
from peft import LoraConfig, get_peft_model_state_dict

# attn1 is self-attention over the image tokens; attn2 attends from them to the text embeddings.
CROSS_ATTENTION_PROJECTIONS = ["attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0"]


def add_cross_attention_lora(unet, rank: int, alpha: float) -> None:
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,  # peft scales the update B @ A by lora_alpha / r
        target_modules=CROSS_ATTENTION_PROJECTIONS,  # matched as suffixes of the module names
        lora_dropout=0.0,
        init_lora_weights=True,  # A: Kaiming-uniform, B: zeros, so the UNet's output is unchanged at first
    )
    # peft freezes every weight of the UNet and leaves only the new lora_A / lora_B trainable.
    unet.add_adapter(config)


def lora_state_dict(unet) -> dict[str, torch.Tensor]:
    # keys "<module>.lora_A.weight" / ".lora_B.weight", without the adapter's name: the format that
    # StableDiffusionPipeline.save_lora_weights writes and load_lora_weights reads back
    return get_peft_model_state_dict(unet)
