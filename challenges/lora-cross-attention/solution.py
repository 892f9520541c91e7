"""lora-cross-attention: LoRA on the UNet's cross-attention projections only. See README.md."""

import torch


def add_cross_attention_lora(unet, rank: int, alpha: float) -> None:
    raise NotImplementedError(
        "add_cross_attention_lora is not implemented yet: add LoRA (scale alpha / rank, B = 0 at first) to every "
        "attn2.to_q, to_k, to_v and to_out.0 of the UNet, in place, and freeze everything else "
        "(peft or a hand-written wrapper: see README.md)")


def lora_state_dict(unet) -> dict[str, torch.Tensor]:
    raise NotImplementedError(
        "lora_state_dict is not implemented yet: return only the LoRA weights, keyed "
        "'<module>.lora_A.weight' / '<module>.lora_B.weight' (see README.md)")
