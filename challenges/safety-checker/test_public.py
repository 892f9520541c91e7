"""Public tests for safety-checker: run them with `diffchallenge test`."""

import pytest

# Scores are multiples of 0.001 in fp32, and every unrounded score lies at least 2e-4 from a rounding boundary
# (probes.CATEGORIES): correct solutions round to the same thousandth and differ by at most one fp32 ulp
# (4e-9 here); a score left unrounded is off by up to 5e-4.
SCORES = dict(rtol=0, atol=1e-6)
# Black-out writes zeros and leaves the other images alone: exact.
EXACT = dict(rtol=0, atol=0)


@pytest.mark.points(3)
@pytest.mark.covers("cosine", "thresholds", "special-care-adjustment", "flags")
def test_concept_scores_one_image_per_role(equivalence, probes):
    # clean, flagged, flagged through the special-care adjustment, special care only (see probes.ROLES)
    equivalence.check("concept_scores", **SCORES,
                      **probes.score_inputs(7, ["clean", "flagged", "adjusted", "special-only"]))


@pytest.mark.points(1)
@pytest.mark.covers("black-out", "warning")
def test_black_out_numpy_batch(equivalence, probes):
    equivalence.check("black_out", **EXACT, images=probes.generated_images(3, "numpy", 4),
                      has_nsfw_concepts=[False, True, False, True], image_format="numpy")


@pytest.mark.points(2)
@pytest.mark.covers("checker", "forbidden")
def test_tiny_checker_numpy_batch(equivalence, probes):
    equivalence.check("safety_checker", **EXACT,
                      **probes.checker_inputs(0, 11, ["adjusted", "clean", "special-only", "flagged"]))

