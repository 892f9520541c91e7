"""A hand-written solution for lora-cross-attention, with no peft: each cross-attention projection is
wrapped in a module that adds the low-rank update (alpha / rank) * B(A(x)) to the frozen layer's output."""

import torch
from torch import nn

CROSS_ATTENTION_PROJECTIONS = ("to_q", "to_k", "to_v")


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False)
        self.scaling = alpha / rank
        # As in the LoRA paper: A random, B zero, so the wrapped layer starts out equal to the original.
        nn.init.kaiming_uniform_(self.lora_A.weight, a=5**0.5)
        nn.init.zeros_(self.lora_B.weight)
        self.lora_A.to(base.weight.device, base.weight.dtype)
        self.lora_B.to(base.weight.device, base.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


def add_cross_attention_lora(unet, rank: int, alpha: float) -> None:
    unet.requires_grad_(False)
    cross_attentions = [module for name, module in unet.named_modules() if name.endswith(".attn2")]
    for attention in cross_attentions:
        for projection in CROSS_ATTENTION_PROJECTIONS:
            setattr(attention, projection, LoRALinear(getattr(attention, projection), rank, alpha))
        attention.to_out[0] = LoRALinear(attention.to_out[0], rank, alpha)  # to_out = [Linear, Dropout]


def lora_state_dict(unet) -> dict[str, torch.Tensor]:
    # "...attn2.to_q.lora_A.weight": peft's key format, which load_lora_weights reads
    return {name: tensor for name, tensor in unet.state_dict().items() if ".lora_" in name}
