"""Hidden tests for dpm-solver-2m: inputs come from the run's secret seed."""

import pytest

from pytest_diffchallenge.recipes import seeded_randn

TRAJECTORY = dict(rtol=1e-5, atol=1e-4)


def _check(equivalence, probes, hidden_seed, num_inference_steps, probe="trajectory", **config):
    equivalence.check(probe, **TRAJECTORY, config={**probes.BASE_CONFIG, **config},
                      num_inference_steps=num_inference_steps,
                      **probes.random_model_outputs(hidden_seed, num_inference_steps))


@pytest.mark.points(2)
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_prediction_types(equivalence, probes, hidden_seed, prediction_type):
    _check(equivalence, probes, hidden_seed, 5 + hidden_seed % 9, prediction_type=prediction_type)


@pytest.mark.points(2)
@pytest.mark.parametrize("spacing", ["linspace", "leading", "trailing"])
def test_timestep_spacings(equivalence, probes, hidden_seed, spacing):
    _check(equivalence, probes, hidden_seed, 6 + hidden_seed % 8, timestep_spacing=spacing)


@pytest.mark.points(3)
def test_karras_sigmas(equivalence, probes, hidden_seed):
    """Karras timesteps are rounded: the solver must work from self.sigmas, not from alphas_cumprod[t]."""
    for prediction_type in ("epsilon", "v_prediction"):
        _check(equivalence, probes, hidden_seed, 8 + hidden_seed % 10, use_karras_sigmas=True,
               prediction_type=prediction_type)


@pytest.mark.points(3)
@pytest.mark.parametrize("lower_order_final", [True, False], ids=["lower_order_final", "second_order_final"])
def test_last_step_order_with_few_steps(equivalence, probes, hidden_seed, lower_order_final):
    _check(equivalence, probes, hidden_seed, 6 + hidden_seed % 8, final_sigmas_type="sigma_min",
           lower_order_final=lower_order_final)


@pytest.mark.points(3)
@pytest.mark.parametrize("final", [dict(final_sigmas_type="sigma_min"), dict(final_sigmas_type="zero"),
                                   dict(final_sigmas_type="sigma_min", euler_at_final=True)],
                         ids=["second_order_final", "zero_final_sigma", "euler_at_final"])
def test_last_step_order_with_many_steps(equivalence, probes, hidden_seed, final):
    _check(equivalence, probes, hidden_seed, 15 + hidden_seed % 6, **final)


@pytest.mark.points(2)
def test_history_is_reset_by_set_timesteps(equivalence, probes, hidden_seed):
    _check(equivalence, probes, hidden_seed, 7 + hidden_seed % 5, probe="second_run")


@pytest.mark.points(2)
def test_starting_part_way(equivalence, probes, hidden_seed):
    """img2img: set_begin_index(k), then the steps from timesteps[k]; the first of them is first order."""
    num_inference_steps, begin_index = 12, 3 + hidden_seed % 5
    inputs = probes.random_model_outputs(hidden_seed, num_inference_steps - begin_index)
    equivalence.check("trajectory", **TRAJECTORY, config=probes.BASE_CONFIG, num_inference_steps=num_inference_steps,
                      begin_index=begin_index, **inputs)


@pytest.mark.points(3)
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_full_loop_with_unet(equivalence, probes, hidden_seed, prediction_type):
    equivalence.check("denoising_loop", **TRAJECTORY, num_inference_steps=10, unet_seed=hidden_seed % 1000,
                      config={**probes.BASE_CONFIG, "prediction_type": prediction_type,
                              "use_karras_sigmas": prediction_type == "v_prediction"},
                      latents=seeded_randn((1, 4, 8, 8), hidden_seed),
                      text_embeddings=seeded_randn((1, 6, 32), hidden_seed + 1))
