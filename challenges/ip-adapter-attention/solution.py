"""ip-adapter-attention: write IP-Adapter's decoupled cross-attention processor. See README.md."""

from torch import nn


class IPAdapterAttnProcessor(nn.Module):
    def __init__(self, hidden_size, cross_attention_dim=None, num_tokens=(4,), scale=1.0):
        super().__init__()
        raise NotImplementedError(
            "IPAdapterAttnProcessor is not implemented yet: create to_k_ip / to_v_ip (one Linear each per adapter) "
            "and attend to the image tokens separately from the text tokens (see README.md)")

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):
        raise NotImplementedError("IPAdapterAttnProcessor.__call__ is not implemented yet (see README.md)")
