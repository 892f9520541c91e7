"""chunked-attention: a memory-efficient attention processor for diffusers' ``Attention`` modules.

Plain attention materialises the (queries x keys) score matrix: at 64x64 latents that is 4096 x 4096
floats per head, 64 MiB, twice over once the softmax is taken. Queries are independent of each other,
so attending with ``chunk_size`` queries at a time gives the same result while only a
(chunk_size x keys) block of scores is ever alive. Everything around the attention itself (norms, the
projections, masks, 4-D inputs, the residual and the output rescaling) follows ``AttnProcessor2_0``.
"""

import torch


class ChunkedAttnProcessor:
    r"""
    Attention processor that computes softmax(Q K^T / sqrt(d) + mask) V for ``chunk_size`` queries at a time.

    Args:
        chunk_size (`int`, defaults to 1024):
            How many queries attend at once. Peak memory for the scores is batch x heads x chunk_size x keys.
    """

    def __init__(self, chunk_size: int = 1024):
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive number of queries, got {chunk_size}")
        self.chunk_size = chunk_size

    def __call__(
        self,
        attn,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args,
        **kwargs,
    ) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)

        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            # (batch, channels, height, width) -> (batch, height * width, channels): one token per pixel
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)

        batch_size, sequence_length, _ = (
            hidden_states.shape if encoder_hidden_states is None else encoder_hidden_states.shape
        )

        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
            # (batch * heads, queries or 1, keys) -> (batch, heads, queries or 1, keys)
            attention_mask = attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])

        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query = attn.to_q(hidden_states)

        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)

        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)

        head_dim = key.shape[-1] // attn.heads
        query = query.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)

        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        hidden_states = self.attend_in_query_chunks(query, key, value, attention_mask)

        hidden_states = hidden_states.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim)
        hidden_states = hidden_states.to(query.dtype)

        # linear proj
        hidden_states = attn.to_out[0](hidden_states)
        # dropout
        hidden_states = attn.to_out[1](hidden_states)

        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch_size, channel, height, width)

        if attn.residual_connection:
            hidden_states = hidden_states + residual

        hidden_states = hidden_states / attn.rescale_output_factor

        return hidden_states

    def attend_in_query_chunks(self, query, key, value, attention_mask):
        """softmax(Q K^T / sqrt(d) + mask) V on (batch, heads, tokens, head_dim) tensors, a block of queries at a
        time."""
        num_queries = query.shape[-2]
        scale = query.shape[-1] ** -0.5  # what scaled_dot_product_attention uses by default
        keys_transposed = key.transpose(-1, -2)
        if attention_mask is not None:
            # a mask with one row applies to every query: broadcast it (a view, no copy) so it slices like the rest
            attention_mask = attention_mask.expand(-1, -1, num_queries, -1)

        output = query.new_empty(query.shape[:-1] + value.shape[-1:])
        chunk_size = self.chunk_size
        for start in range(0, num_queries, chunk_size):
            rows = slice(start, start + chunk_size)
            scores = torch.matmul(query[:, :, rows], keys_transposed).mul_(scale)  # (batch, heads, chunk, keys)
            if attention_mask is not None:
                scores += attention_mask[:, :, rows]
            output[:, :, rows] = torch.matmul(scores.softmax(dim=-1), value)
        return output
