"""Public tests for chunked-attention: run them with `diffchallenge test`."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

# Measured against AttnProcessor2_0: the reference at most 1e-6 here (3.4e-6 through a VAE decoder); a processor that
# attends each block in float64 at most 2.5e-6 (through a VAE decoder).
ATTENTION = dict(rtol=1e-5, atol=1e-5)
DROP = -10000.0  # the additive bias diffusers puts on masked-out tokens


@pytest.mark.points(2)
@pytest.mark.covers("chunks", "attention")
def test_self_attention_in_chunks(equivalence, probes):
    """20 tokens in chunks of 7: three chunks, the last one short."""
    equivalence.check("attention", **ATTENTION, config=probes.TRANSFORMER_BLOCK, module_seed=0, chunk_size=7,
                      hidden_states=seeded_randn((2, 20, probes.CHANNELS), 1))


@pytest.mark.points(2)
@pytest.mark.covers("cross-attention", "mask-layouts")
def test_cross_attention_with_padding_mask(equivalence, probes):
    keep = torch.tensor([[1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0, 0, 0]])
    equivalence.check("attention", **ATTENTION, config={**probes.TRANSFORMER_BLOCK, "cross_attention_dim": 16},
                      module_seed=1, chunk_size=8, hidden_states=seeded_randn((2, 20, probes.CHANNELS), 2),
                      encoder_hidden_states=seeded_randn((2, 9, 16), 3),
                      attention_mask=((1 - keep) * DROP).unsqueeze(1).float())


@pytest.mark.points(2)
@pytest.mark.covers("image-layout", "module-norms", "residual-rescale")
def test_vae_block_on_images(equivalence, probes):
    """4-D (batch, channels, height, width) input, group norm, residual connection, rescaled output."""
    equivalence.check("attention", **ATTENTION, config=probes.VAE_BLOCK, module_seed=2, chunk_size=10,
                      hidden_states=seeded_randn((2, probes.CHANNELS, 6, 5), 4))


@pytest.mark.points(3)
@pytest.mark.covers("models")
def test_tiny_unet_with_text_mask(equivalence):
    """Every attention module of a tiny Stable Diffusion UNet, self- and cross-attention."""
    equivalence.check("unet", **ATTENTION, unet_seed=0, data_seed=5, chunk_size=5,
                      text_mask=torch.tensor([[1] * 7, [1] * 4 + [0] * 3]))


@pytest.mark.points(3)
@pytest.mark.memory_limit()
@pytest.mark.covers("memory")
def test_memory_at_4096_tokens(equivalence, probes):
    """A 64x64 image through a VAE attention block, 512 queries at a time. Plain attention peaks at 130.5 MiB."""
    equivalence.check("long_sequence", **ATTENTION, config=probes.VAE_BLOCK, module_seed=3, chunk_size=512,
                      batch=1, side=64, data_seed=6)


@pytest.mark.points(2)
@pytest.mark.runtime_budget()
@pytest.mark.covers("runtime")
def test_runtime_against_reference(runtime):
    """8192 image tokens attending to a 77-token prompt, 1024 queries at a time, on one thread: median time
    against the reference solution's, interleaved in the same run."""
    runtime.check("timed_text_conditioning", module_seed=4, chunk_size=1024, image_tokens=8192, text_tokens=77,
                  data_seed=7)
