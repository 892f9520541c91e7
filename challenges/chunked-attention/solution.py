"""chunked-attention: a diffusers attention processor that never holds the full score matrix. See README.md."""

import torch


class ChunkedAttnProcessor:
    def __init__(self, chunk_size: int = 1024):
        self.chunk_size = chunk_size

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None, *args, **kwargs):
        raise NotImplementedError(
            "ChunkedAttnProcessor.__call__ is not implemented yet: do what AttnProcessor2_0 does (norms, "
            "projections, masks, 4-D inputs, residual, rescaling), but attend chunk_size queries at a time "
            "instead of calling scaled_dot_product_attention (see README.md)")
