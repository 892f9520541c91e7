"""Hidden tests for safety-checker: inputs come from the run's secret seed. The seed draws the values (model,
embeddings, thresholds, the order of the images' roles); every role, and so every branch, is pinned by the test."""

import pytest
import torch

# See test_public.py: rounded scores agree to one fp32 ulp; a score left unrounded is off by up to 5e-4.
SCORES = dict(rtol=0, atol=1e-6)
EXACT = dict(rtol=0, atol=0)
ROLES = ("clean", "flagged", "adjusted", "special-only")


@pytest.mark.points(3)
@pytest.mark.covers("cosine", "thresholds", "special-care-adjustment", "flags")
def test_concept_scores(equivalence, probes, hidden_seed):
    """Six images (every role, two of them twice) in an order drawn by the seed, the library's 17 and 3 concepts."""
    roles = probes.role_order(hidden_seed, (*ROLES, "clean", "adjusted"))
    equivalence.check("concept_scores", **SCORES, **probes.score_inputs(hidden_seed, roles))


@pytest.mark.points(1)
@pytest.mark.covers("cosine", "thresholds", "special-care-adjustment", "flags")
def test_concept_scores_other_sizes(equivalence, probes, hidden_seed):
    """5 concepts, 4 special-care concepts, embeddings of 24 dimensions."""
    equivalence.check("concept_scores", **SCORES, **probes.score_inputs(
        hidden_seed + 1, probes.role_order(hidden_seed), concepts=5, special_care=4, dim=24))


@pytest.mark.points(1)
@pytest.mark.parametrize(("image_format", "dtype"), [("numpy", "float32"), ("numpy", "float64"),
                                                      ("torch", "float32"), ("torch", "float16")])
@pytest.mark.covers("black-out", "warning")
def test_black_out(equivalence, probes, hidden_seed, image_format, dtype):
    flags = [bool(hidden_seed >> bit & 1) for bit in range(5)]
    flagged = hidden_seed % 5
    clean = (flagged + 1 + hidden_seed // 5 % 4) % 5  # another image: the batch mixes both kinds
    flags[flagged], flags[clean] = True, False
    equivalence.check("black_out", **EXACT, images=probes.generated_images(hidden_seed, image_format, 5,
                                                                          getattr(torch, dtype)),
                      has_nsfw_concepts=flags, image_format=image_format)


@pytest.mark.points(1)
@pytest.mark.parametrize("flagged", [False, True], ids=["none-flagged", "all-flagged"])
@pytest.mark.covers("black-out", "warning")
def test_black_out_uniform_batch(equivalence, probes, hidden_seed, flagged):
    """No image flagged: the batch unchanged and no warning; every image flagged: all black."""
    equivalence.check("black_out", **EXACT, images=probes.generated_images(hidden_seed, "torch", 3),
                      has_nsfw_concepts=[flagged] * 3, image_format="torch")


@pytest.mark.points(2)
@pytest.mark.parametrize("image_format", ["numpy", "torch"])
@pytest.mark.covers("checker", "flags", "special-care-adjustment", "warning", "forbidden")
def test_tiny_checker(equivalence, probes, hidden_seed, image_format):
    equivalence.check("safety_checker", **EXACT, **probes.checker_inputs(
        hidden_seed % 1000, hidden_seed, probes.role_order(hidden_seed), image_format))


@pytest.mark.points(1)
@pytest.mark.covers("checker", "warning")
def test_tiny_checker_clean_batch(equivalence, probes, hidden_seed):
    """Clean images, one of them with special care: nothing blacked out, no warning."""
    roles = probes.role_order(hidden_seed, ("clean", "special-only", "clean"))
    equivalence.check("safety_checker", **EXACT, **probes.checker_inputs(hidden_seed % 997, hidden_seed + 5, roles))
