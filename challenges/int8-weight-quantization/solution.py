"""int8-weight-quantization: weight-only int8 for ``nn.Linear``. Read README.md for the task."""

import torch
from torch import nn


class QuantizedLinear(nn.Module):
    """A linear layer whose weight is held as int8 codes (``weight_int8``, shape (out, in)), one fp32 scale per
    output channel (``scale``, shape (out,)) and the original ``bias`` (or None)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("QuantizedLinear.forward: return x @ (weight_int8 * scale[:, None])^T + bias")


def quantize_linear(linear: nn.Linear) -> QuantizedLinear:
    raise NotImplementedError("quantize_linear: per row, scale = max|w| / 127 and codes = round(w / scale) as int8")


def quantize_model(model: nn.Module) -> nn.Module:
    raise NotImplementedError("quantize_model: replace every nn.Linear of the model by quantize_linear(it), in place")
