"""int8-weight-quantization: weight-only int8 for ``nn.Linear``, in plain torch.

Each output channel (a row of the weight) gets its own scale, max|w_row| / 127, and its weights are stored as
int8 codes round(w / scale): a quarter of the fp32 bytes, plus one fp32 scale per row. The forward dequantizes
the codes back to fp32 and runs an ordinary linear; the bias stays in full precision.
"""

import torch
from torch import nn

INT8_MAX = 127  # symmetric: codes in [-127, 127], so that -w quantizes to -code


class QuantizedLinear(nn.Module):
    """A linear layer whose weight is held as int8 codes and one fp32 scale per output channel."""

    def __init__(self, weight_int8: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.register_buffer("weight_int8", weight_int8)
        self.register_buffer("scale", scale)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Dequantized only for the call: the fp32 weight is a temporary, never kept.
        weight = self.weight_int8.to(x.dtype) * self.scale.to(x.dtype)[:, None]
        return nn.functional.linear(x, weight, self.bias)


def quantize_linear(linear: nn.Linear) -> QuantizedLinear:
    weight = linear.weight.detach()
    largest = weight.abs().amax(dim=1)
    # An all-zero row has codes 0 whatever its scale: give it 1 rather than divide by zero.
    scale = torch.where(largest > 0, largest / INT8_MAX, torch.ones_like(largest))
    weight_int8 = torch.round(weight / scale[:, None]).to(torch.int8)  # to nearest, ties to even
    bias = None if linear.bias is None else linear.bias.detach().clone()
    return QuantizedLinear(weight_int8, scale, bias)


def quantize_model(model: nn.Module) -> nn.Module:
    """Replaces every ``nn.Linear`` in ``model`` (at any depth) by its ``QuantizedLinear``, in place."""
    for name, child in model.named_children():
        if isinstance(child, nn.Linear):
            setattr(model, name, quantize_linear(child))
        else:
            quantize_model(child)
    return model
