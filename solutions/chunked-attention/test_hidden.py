"""Hidden tests for chunked-attention: inputs come from the run's secret seed."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

# Measured: the reference within 1e-6 of AttnProcessor2_0 (3.4e-6 after a VAE decoder), float64 blocks 2.5e-6.
ATTENTION = dict(rtol=1e-5, atol=1e-5)
DROP = -10000.0


def keep_mask(shape, seed):
    """1 = attend, 0 = masked out; the first token always stays so that no row is fully masked."""
    keep = (seeded_randn(shape, seed) > -0.3).long()
    keep[..., 0] = 1
    return keep


@pytest.mark.points(1)
@pytest.mark.parametrize("chunk_size", [1, 3, 64, 5000])
@pytest.mark.covers("chunks", "attention", "residual-rescale", "forbidden")
def test_chunk_sizes(equivalence, probes, hidden_seed, chunk_size):
    """One query at a time up to a chunk longer than the sequence (64 = the sequence exactly)."""
    equivalence.check("attention", **ATTENTION, config=probes.TRANSFORMER_BLOCK, module_seed=hidden_seed % 1000,
                      chunk_size=chunk_size, hidden_states=seeded_randn((2, 64, probes.CHANNELS), hidden_seed))


@pytest.mark.points(1)
@pytest.mark.covers("default-chunk-size", "chunks")
def test_default_chunk_size(equivalence, probes, hidden_seed):
    """ChunkedAttnProcessor() with no argument on 36 x 36 = 1296 tokens: a chunk of 1024, then one of 272."""
    equivalence.check("attention", **ATTENTION, config=probes.VAE_BLOCK, module_seed=hidden_seed % 1000,
                      chunk_size=None, hidden_states=seeded_randn((1, probes.CHANNELS, 36, 36), hidden_seed))


@pytest.mark.points(1)
@pytest.mark.covers("attention")
def test_scale_is_one_over_sqrt_head_dim(equivalence, probes, hidden_seed):
    """A module built with scale_qk=False has attn.scale = 1, which AttnProcessor2_0 ignores: SDPA scales by
    1/sqrt(head_dim) all the same."""
    equivalence.check("attention", **ATTENTION, config={**probes.TRANSFORMER_BLOCK, "scale_qk": False},
                      module_seed=hidden_seed % 1000, chunk_size=6,
                      hidden_states=seeded_randn((2, 15, probes.CHANNELS), hidden_seed))


@pytest.mark.points(1)
@pytest.mark.parametrize("layout", ["per-query", "per-key", "per-head"])
@pytest.mark.covers("mask-layouts", "cross-attention")
def test_mask_layouts(equivalence, probes, hidden_seed, layout):
    """Masks as (batch, queries, keys), (batch, 1, keys) and repeated per head (batch * heads, queries, keys)."""
    batch, queries, keys, heads = 2, 21, 11, probes.TRANSFORMER_BLOCK["heads"]
    rows = {"per-query": batch, "per-key": batch, "per-head": batch * heads}[layout]
    mask = (1 - keep_mask((rows, 1 if layout == "per-key" else queries, keys), hidden_seed + 1)) * DROP
    equivalence.check("attention", **ATTENTION, config={**probes.TRANSFORMER_BLOCK, "cross_attention_dim": 16},
                      module_seed=hidden_seed % 1000, chunk_size=4,
                      hidden_states=seeded_randn((batch, queries, probes.CHANNELS), hidden_seed),
                      encoder_hidden_states=seeded_randn((batch, keys, 16), hidden_seed + 2),
                      attention_mask=mask.float())


@pytest.mark.points(2)
@pytest.mark.covers("module-norms", "image-layout", "residual-rescale")
def test_spatial_norm(equivalence, probes, hidden_seed):
    """MoVQ-style attention: the quantised latent (temb) conditions a spatial norm instead of the group norm."""
    equivalence.check("attention", **ATTENTION,
                      config={**probes.VAE_BLOCK, "norm_num_groups": None, "spatial_norm_dim": 4,
                              "rescale_output_factor": 1.5},
                      module_seed=hidden_seed % 1000, chunk_size=9,
                      hidden_states=seeded_randn((2, probes.CHANNELS, 5, 7), hidden_seed),
                      temb=seeded_randn((2, 4, 3, 3), hidden_seed + 1))


@pytest.mark.points(1)
@pytest.mark.parametrize("norm", ["layer_norm", "group_norm"])
@pytest.mark.covers("cross-attention", "module-norms")
def test_cross_attention_norm(equivalence, probes, hidden_seed, norm):
    equivalence.check("attention", **ATTENTION,
                      config={**probes.TRANSFORMER_BLOCK, "cross_attention_dim": 16, "cross_attention_norm": norm,
                              "cross_attention_norm_num_groups": 4},
                      module_seed=hidden_seed % 1000, chunk_size=6,
                      hidden_states=seeded_randn((3, 17, probes.CHANNELS), hidden_seed),
                      encoder_hidden_states=seeded_randn((3, 5, 16), hidden_seed + 1))


@pytest.mark.points(1)
@pytest.mark.parametrize("qk_norm", ["layer_norm", "rms_norm"])
@pytest.mark.covers("module-norms")
def test_query_key_norm(equivalence, probes, hidden_seed, qk_norm):
    equivalence.check("attention", **ATTENTION, config={**probes.TRANSFORMER_BLOCK, "qk_norm": qk_norm},
                      module_seed=hidden_seed % 1000, chunk_size=5,
                      hidden_states=seeded_randn((2, 19, probes.CHANNELS), hidden_seed))


@pytest.mark.points(3)
@pytest.mark.covers("models", "mask-layouts")
def test_tiny_sdxl_unet_with_masks(equivalence, hidden_seed):
    """SDXL's layout (several heads per block, linear projections), a text mask and a mask over image tokens."""
    equivalence.check("unet", **ATTENTION, unet_seed=hidden_seed % 1000, data_seed=hidden_seed, chunk_size=3,
                      sdxl=True, text_mask=keep_mask((2, 7), hidden_seed + 1),
                      image_mask=keep_mask((2, 16), hidden_seed + 2))


@pytest.mark.points(2)
@pytest.mark.covers("models")
def test_tiny_vae_decode(equivalence, hidden_seed):
    equivalence.check("vae_decode", **ATTENTION, vae_seed=hidden_seed % 1000, data_seed=hidden_seed, chunk_size=12)


@pytest.mark.points(3)
@pytest.mark.memory_limit()
@pytest.mark.covers("memory", "forbidden")
def test_memory_with_two_heads(equivalence, probes, hidden_seed):
    """4096 tokens, two heads, 256 queries at a time. Plain attention peaks at 258.5 MiB."""
    equivalence.check("long_sequence", **ATTENTION, config={**probes.VAE_BLOCK, "heads": 2, "dim_head": 16},
                      module_seed=hidden_seed % 1000, chunk_size=256, batch=1, side=64, data_seed=hidden_seed)


@pytest.mark.points(1)
@pytest.mark.runtime_budget()
@pytest.mark.covers("runtime")
def test_runtime_with_secret_inputs(runtime, hidden_seed):
    """The public runtime test's shapes, with secret weights and inputs."""
    runtime.check("timed_text_conditioning", module_seed=hidden_seed % 1000, chunk_size=1024, image_tokens=8192,
                  text_tokens=77, data_seed=hidden_seed)
