"""Public tests for ddim-step: run them with `diffchallenge test`."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

# One fp32 step: a float64 step, cast back, differs from the library by at most 0.16 of this (measured).
STEP = dict(rtol=1e-5, atol=1e-5)


@pytest.mark.points(2)
@pytest.mark.covers("prediction-types", "eta-zero", "return-types")
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_deterministic_step(equivalence, probes, prediction_type):
    equivalence.check("step", **STEP, config={**probes.BASE_CONFIG, "prediction_type": prediction_type},
                      num_inference_steps=10, step_index=3, **probes.random_inputs(0))


@pytest.mark.points(2)
@pytest.mark.covers("eta-noise")
def test_stochastic_step_with_variance_noise(equivalence, probes):
    equivalence.check("step", **STEP, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=5, eta=0.7,
                      variance_noise=seeded_randn(probes.SHAPE, 7), **probes.random_inputs(1))


@pytest.mark.points(1)
@pytest.mark.covers("return-types")
def test_tuple_return(equivalence, probes):
    equivalence.check("step", **STEP, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=9,
                      return_dict=False, **probes.random_inputs(2))
