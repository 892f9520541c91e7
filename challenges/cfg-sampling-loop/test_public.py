"""Public tests for cfg-sampling-loop: run them with `diffchallenge test`."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

# measured 0 for the reference; a differently ordered guidance formula drifts by ~1e-6 per step on |x| ~ 50
LOOP = dict(rtol=1e-5, atol=1e-4)
RESCALE = dict(rtol=1e-5, atol=1e-5)


@pytest.mark.points(2)
def test_rescale_noise_cfg(equivalence):
    equivalence.check("rescale", **RESCALE, noise_cfg=seeded_randn((2, 4, 8, 8), 0, scale=3.0),
                      noise_pred_text=seeded_randn((2, 4, 8, 8), 1), guidance_rescale=0.7)


@pytest.mark.points(3)
def test_ddim_with_guidance(equivalence):
    equivalence.check("generate", **LOOP, scheduler="ddim", model_seed=0, prompt="a photo of a cat", seed=1,
                      guidance_scale=7.5)


@pytest.mark.points(3)
def test_euler_init_noise_sigma_and_scaling(equivalence):
    equivalence.check("generate", **LOOP, scheduler="euler", model_seed=0, prompt="a photo of a cat", seed=2,
                      guidance_scale=5.0, spacing="linspace")
