"""Public tests for dpm-solver-2m: run them with `diffchallenge test`."""

import pytest

# Every prev_sample of a run is compared; |x| reaches 50-60 with random epsilon outputs. A float64 solver uses
# at most 24% of this (measured).
TRAJECTORY = dict(rtol=1e-5, atol=1e-4)


@pytest.mark.points(2)
@pytest.mark.covers("first-order-start", "prediction-types")
def test_first_step_is_first_order(equivalence, probes):
    equivalence.check("trajectory", **TRAJECTORY, config=probes.BASE_CONFIG, num_inference_steps=10,
                      **_first(probes.random_model_outputs(0, 10), 1))


@pytest.mark.points(3)
@pytest.mark.covers("prediction-types", "first-order-start", "second-order", "last-step-order", "step-index")
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_whole_run(equivalence, probes, prediction_type):
    equivalence.check("trajectory", **TRAJECTORY, config={**probes.BASE_CONFIG, "prediction_type": prediction_type},
                      num_inference_steps=10, **probes.random_model_outputs(1, 10))


@pytest.mark.points(1)
@pytest.mark.covers("return-types")
def test_tuple_return(equivalence, probes):
    equivalence.check("trajectory", **TRAJECTORY, config=probes.BASE_CONFIG, num_inference_steps=5,
                      return_dict=False, **probes.random_model_outputs(2, 5))


def _first(inputs, count):
    return {**inputs, "model_outputs": inputs["model_outputs"][:count]}
