"""Public tests for lora-cross-attention: run them with `diffchallenge test`."""

import pytest
import torch

# A single UNet forward: measured at most 1.0e-6 between peft and a hand-written LoRA computed in fp64 (14 seeds,
# SD and SDXL, 1 and 2 threads); 0 between peft and a hand-written one in fp32 at the same thread count.
UNET = dict(rtol=1e-5, atol=1e-5)
# Three AdamW steps (accumulated): against the float64 truth, within 8x the library's own error. AdamW's first
# step is sign-like, so a gradient within rounding of zero makes an isolated spike: measured up to 3.5x the
# library's error between two correct runs (18 seeds); 8x leaves room for that, and none for a wrong LoRA.
TRAINED = dict(truth_inputs={"dtype": torch.float64}, multiple=8)
# A two-step pipeline (accumulated): against the float64 truth, within 4x the library's error (measured at
# most 1.3x for a LoRA computed in fp64 or on another thread count).
IMAGES = dict(truth_inputs={"dtype": torch.float64})
LORA = dict(unet_seed=0, rank=4, alpha=8.0)  # scale alpha / rank = 2


@pytest.mark.points(2)
@pytest.mark.covers("targets", "parameter-names")
def test_only_cross_attention_projections_are_adapted(equivalence):
    equivalence.check("adapted_modules", rtol=0, atol=0, **LORA)


@pytest.mark.points(2)
@pytest.mark.covers("frozen-kept")
def test_original_weights_are_frozen_and_kept(equivalence):
    equivalence.check("frozen_weights", rtol=0, atol=0, **LORA)


@pytest.mark.points(2)
@pytest.mark.covers("trainable-count")
def test_trainable_parameter_count(submission, probes):
    expected = probes.expected_trainable_count(LORA["unet_seed"], LORA["rank"])
    got = submission.call("trainable_count", **LORA)["trainable_parameters"]
    assert got == expected, (f"{got} trainable parameters; expected rank * (in + out) summed over the "
                             f"cross-attention projections = {expected}")


@pytest.mark.points(2)
@pytest.mark.covers("initialisation")
def test_output_unchanged_at_initialisation(equivalence):
    equivalence.check("unet_output", **UNET, **LORA, data_seed=1)


@pytest.mark.points(3)
@pytest.mark.covers("scale")
def test_lora_update_scaled_by_alpha_over_rank(equivalence):
    """Seeded non-zero A and B in every adapted layer: the output depends on the scale."""
    equivalence.check("unet_output", **UNET, **LORA, data_seed=1, fill_seed=5)


@pytest.mark.points(3)
@pytest.mark.covers("training")
def test_training_moves_only_lora_weights(equivalence):
    equivalence.check_against_truth("training", **TRAINED, **LORA, data_seed=2, fill_seed=6)


@pytest.mark.points(2)
@pytest.mark.covers("state-dict")
def test_state_dict_keys_and_values(submission, probes):
    inputs = dict(**LORA, fill_seed=7)
    expected = probes.state_dict(probes.ORACLE, **inputs)["state_dict"]
    got = submission.call("state_dict", **inputs)["state_dict"]
    probes.assert_state_dicts_match(got, expected)


@pytest.mark.points(3)
@pytest.mark.covers("round-trip")
def test_save_and_load_round_trip(equivalence):
    equivalence.check_against_truth("round_trip", **IMAGES, model_seed=0, rank=4, alpha=8.0, fill_seed=8,
                                    prompt="a watercolour fox", seed=3)
