"""Reference solution for ip-adapter-attention: IP-Adapter's decoupled cross-attention (Ye et al., 2023)."""

import torch.nn.functional as F
from torch import nn


class IPAdapterAttnProcessor(nn.Module):
    """Cross-attention to the text tokens, plus, for each adapter, a separate attention of the same queries
    to its image tokens through its own key/value projections; the image results are scaled and added."""

    def __init__(self, hidden_size, cross_attention_dim=None, num_tokens=(4,), scale=1.0):
        super().__init__()
        num_tokens = list(num_tokens) if isinstance(num_tokens, (list, tuple)) else [num_tokens]
        scales = list(scale) if isinstance(scale, (list, tuple)) else [scale] * len(num_tokens)
        if len(scales) != len(num_tokens):
            raise ValueError("give one scale per adapter")
        self.hidden_size, self.cross_attention_dim = hidden_size, cross_attention_dim
        self.num_tokens, self.scale = num_tokens, scales
        input_dim = cross_attention_dim or hidden_size
        self.to_k_ip = nn.ModuleList([nn.Linear(input_dim, hidden_size, bias=False) for _ in num_tokens])
        self.to_v_ip = nn.ModuleList([nn.Linear(input_dim, hidden_size, bias=False) for _ in num_tokens])

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):
        residual = hidden_states
        text_states, ip_hidden_states = encoder_hidden_states if encoder_hidden_states is not None else (None, [])

        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:  # (B, C, H, W) -> (B, H*W, C)
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)
        batch_size = hidden_states.shape[0]
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        # 1. the usual attention to the text tokens (the mask applies to them only)
        if text_states is None:
            text_states = hidden_states
        elif attn.norm_cross:
            text_states = attn.norm_encoder_hidden_states(text_states)
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, text_states.shape[1], batch_size)
            attention_mask = attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])
        query = self._heads(attn, attn.to_q(hidden_states))
        key = self._heads(attn, attn.to_k(text_states))
        value = self._heads(attn, attn.to_v(text_states))
        hidden_states = self._merge(F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask))

        # 2. decoupled attention: the same queries against each adapter's image tokens, scaled and added
        # not strict: without encoder_hidden_states there are no image tokens (ip_hidden_states is empty)
        for image_states, scale, to_k_ip, to_v_ip in zip(ip_hidden_states, self.scale, self.to_k_ip, self.to_v_ip,
                                                         strict=False):
            if scale == 0:
                continue
            ip_key = self._heads(attn, to_k_ip(image_states))  # (B, images, tokens, D): images join the tokens
            ip_value = self._heads(attn, to_v_ip(image_states))
            hidden_states = hidden_states + scale * self._merge(F.scaled_dot_product_attention(query, ip_key, ip_value))

        # 3. output projection, dropout, back to the input layout, residual and rescale
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor

    @staticmethod
    def _heads(attn, projected):
        """(B, ..., heads * head_dim) -> (B, heads, tokens, head_dim)."""
        batch_size = projected.shape[0]
        head_dim = projected.shape[-1] // attn.heads
        return projected.reshape(batch_size, -1, attn.heads, head_dim).transpose(1, 2)

    @staticmethod
    def _merge(attended):
        """(B, heads, tokens, head_dim) -> (B, tokens, heads * head_dim)."""
        batch_size, heads, tokens, head_dim = attended.shape
        return attended.transpose(1, 2).reshape(batch_size, tokens, heads * head_dim)
