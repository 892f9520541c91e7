"""Hidden tests for dpm-solver-2m: inputs come from the run's secret seed; every branch is pinned by the test's id."""

import pytest
import torch

from pytest_diffchallenge.recipes import seeded_randn

# Every prev_sample of an fp32 run (up to 20 steps, |x| up to 60): a float64 solver uses at most 24% of this and
# the library's own error against float64 truth is under 4e-5 (measured).
TRAJECTORY = dict(rtol=1e-5, atol=1e-4)


def _check(equivalence, probes, hidden_seed, num_inference_steps, probe="trajectory", **config):
    equivalence.check(probe, **TRAJECTORY, config={**probes.BASE_CONFIG, **config},
                      num_inference_steps=num_inference_steps,
                      **probes.random_model_outputs(hidden_seed, num_inference_steps))


@pytest.mark.points(2)
@pytest.mark.covers("prediction-types", "first-order-start", "second-order", "step-index", "return-types",
                    "forbidden")
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_prediction_types(equivalence, probes, hidden_seed, prediction_type):
    _check(equivalence, probes, hidden_seed, 5 + hidden_seed % 9, prediction_type=prediction_type)


@pytest.mark.points(2)
@pytest.mark.covers("sigma-schedules")
@pytest.mark.parametrize("spacing", ["linspace", "leading", "trailing"])
def test_timestep_spacings(equivalence, probes, hidden_seed, spacing):
    _check(equivalence, probes, hidden_seed, 6 + hidden_seed % 8, timestep_spacing=spacing)


@pytest.mark.points(3)
@pytest.mark.covers("sigma-schedules")
def test_karras_sigmas(equivalence, probes, hidden_seed):
    """Karras timesteps are rounded: the solver must work from self.sigmas, not from alphas_cumprod[t].
    Fewer than 15 steps, so that the last step is first order under every secret."""
    for prediction_type in ("epsilon", "v_prediction"):
        _check(equivalence, probes, hidden_seed, 8 + hidden_seed % 7, use_karras_sigmas=True,
               prediction_type=prediction_type)


@pytest.mark.points(3)
@pytest.mark.covers("last-step-order")
@pytest.mark.parametrize("lower_order_final", [True, False], ids=["lower_order_final", "second_order_final"])
def test_last_step_order_with_few_steps(equivalence, probes, hidden_seed, lower_order_final):
    for num_inference_steps in (14, 6 + hidden_seed % 8):  # 14: the largest count under the threshold of 15
        _check(equivalence, probes, hidden_seed, num_inference_steps, final_sigmas_type="sigma_min",
               lower_order_final=lower_order_final)


@pytest.mark.points(3)
@pytest.mark.covers("last-step-order")
@pytest.mark.parametrize("final", [dict(final_sigmas_type="sigma_min"), dict(final_sigmas_type="zero"),
                                   dict(final_sigmas_type="sigma_min", euler_at_final=True)],
                         ids=["second_order_final", "zero_final_sigma", "euler_at_final"])
def test_last_step_order_with_many_steps(equivalence, probes, hidden_seed, final):
    for num_inference_steps in (15, 16 + hidden_seed % 5):  # 15: the threshold itself, where lower_order_final stops
        _check(equivalence, probes, hidden_seed, num_inference_steps, **final)


@pytest.mark.points(2)
@pytest.mark.covers("history-reset")
def test_history_is_reset_by_set_timesteps(equivalence, probes, hidden_seed):
    _check(equivalence, probes, hidden_seed, 7 + hidden_seed % 5, probe="second_run")


@pytest.mark.points(2)
@pytest.mark.covers("first-order-start", "step-index")
def test_starting_part_way(equivalence, probes, hidden_seed):
    """img2img: set_begin_index(k), then the steps from timesteps[k]; the first of them is first order."""
    num_inference_steps, begin_index = 12, 3 + hidden_seed % 5
    inputs = probes.random_model_outputs(hidden_seed, num_inference_steps - begin_index)
    equivalence.check("trajectory", **TRAJECTORY, config=probes.BASE_CONFIG, num_inference_steps=num_inference_steps,
                      begin_index=begin_index, **inputs)


@pytest.mark.points(1)
@pytest.mark.covers("return-types")
def test_tuple_return(equivalence, probes, hidden_seed):
    equivalence.check("trajectory", **TRAJECTORY, config={**probes.BASE_CONFIG, "prediction_type": "v_prediction"},
                      num_inference_steps=6 + hidden_seed % 5, return_dict=False,
                      **probes.random_model_outputs(hidden_seed, 6 + hidden_seed % 5))


# (sample dtype, model output dtype, prediction type): the library returns prev_sample in the x0 prediction's
# dtype, torch.promote_types(sample, model output) for epsilon and v_prediction, the model output's for sample.
DTYPE_CASES = {
    "fp16": (torch.float16, torch.float16, "epsilon"),
    "bf16": (torch.bfloat16, torch.bfloat16, "epsilon"),
    "fp32_sample_fp16_outputs": (torch.float32, torch.float16, "epsilon"),  # fp32
    "fp16_sample_bf16_outputs": (torch.float16, torch.bfloat16, "v_prediction"),  # fp32
    "fp32_sample_bf16_x0_outputs": (torch.float32, torch.bfloat16, "sample"),  # bf16
}


@pytest.mark.points(1)
@pytest.mark.covers("dtype")
@pytest.mark.parametrize("case", list(DTYPE_CASES))
def test_dtypes(equivalence, probes, hidden_seed, case):
    # judged against float64 truth: within 4x the library's own error there (+ 1 ulp), never its rounding
    sample_dtype, dtype, prediction_type = DTYPE_CASES[case]
    equivalence.check_against_truth("trajectory", config={**probes.BASE_CONFIG, "prediction_type": prediction_type},
                                    num_inference_steps=10,
                                    **probes.random_model_outputs(hidden_seed, 10, dtype, sample_dtype))


@pytest.mark.points(3)
@pytest.mark.covers("loop")
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_full_loop_with_unet(equivalence, probes, hidden_seed, prediction_type):
    # errors accumulate over 10 UNet steps: judged against a float64 run (float64 UNet), 4x the library's error
    equivalence.check_against_truth("denoising_loop", truth_inputs={"dtype": torch.float64}, num_inference_steps=10,
                                    unet_seed=hidden_seed % 1000,
                                    config={**probes.BASE_CONFIG, "prediction_type": prediction_type,
                                            "use_karras_sigmas": prediction_type == "v_prediction"},
                                    latents=seeded_randn((1, 4, 8, 8), hidden_seed),
                                    text_embeddings=seeded_randn((1, 6, 32), hidden_seed + 1))
