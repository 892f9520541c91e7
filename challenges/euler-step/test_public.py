"""Public tests for euler-step: run them with `diffchallenge test`."""

import pytest

SCHEDULE = dict(rtol=1e-5, atol=1e-4)  # timesteps reach 999, where an fp32 ulp is 6e-5
STEP = dict(rtol=1e-5, atol=1e-5)  # one fp32 step: a float64 step, cast back, uses at most 22% of it (measured)


@pytest.mark.points(1)
@pytest.mark.covers("timesteps", "sigmas", "init-noise-sigma")
@pytest.mark.parametrize("spacing", ["linspace", "leading", "trailing"])
def test_schedule(equivalence, probes, spacing):
    equivalence.check("schedule", **SCHEDULE, config={**probes.BASE_CONFIG, "timestep_spacing": spacing},
                      num_inference_steps=10)


@pytest.mark.points(2)
@pytest.mark.covers("karras")
def test_karras_schedule(equivalence, probes):
    equivalence.check("schedule", **SCHEDULE, num_inference_steps=12,
                      config={**probes.BASE_CONFIG, "use_karras_sigmas": True, "timestep_spacing": "leading"})


@pytest.mark.points(1)
@pytest.mark.covers("scale-model-input")
def test_scale_model_input(equivalence, probes):
    equivalence.check("scale_model_input", **STEP, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=0,
                      sample=probes.random_inputs(0)["sample"])


@pytest.mark.points(2)
@pytest.mark.covers("prediction-types", "step-index", "return-types")
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_deterministic_step(equivalence, probes, prediction_type):
    equivalence.check("step", **STEP, config={**probes.BASE_CONFIG, "prediction_type": prediction_type},
                      num_inference_steps=10, step_index=3, **probes.random_inputs(1))


@pytest.mark.points(2)
@pytest.mark.covers("churn", "churn-noise")
def test_churn_with_generator(equivalence, probes):
    equivalence.check("step", **STEP, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=2,
                      churn=dict(s_churn=40.0, s_tmin=0.5, s_tmax=20.0), generator_seed=7, **probes.random_inputs(2))


@pytest.mark.points(1)
@pytest.mark.covers("return-types")
def test_tuple_return(equivalence, probes):
    equivalence.check("step", **STEP, config=probes.BASE_CONFIG, num_inference_steps=10, step_index=9,
                      return_dict=False, **probes.random_inputs(3))
