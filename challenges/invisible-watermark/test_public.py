"""Public tests for invisible-watermark: run them with `diffchallenge test`. The figures (PSNR, bit accuracy)
are measured here, on the grader's side, with the `invisible-watermark` package's own dwtDct decoder; the
package's own figures on the same image are recorded beside the candidate's."""

import pytest
import torch

from pytest_diffchallenge import figures

IMAGE_SEED, MESSAGE_SEED = 11, 12


@pytest.mark.points(3)
@pytest.mark.covers("encode", "psnr", "forbidden")
def test_the_package_reads_your_watermark(submission, probes):
    bits = probes.message(MESSAGE_SEED)
    quality, accuracy = probes.judge(submission, figures, probes.natural_image(IMAGE_SEED), bits)
    assert quality >= probes.MIN_PSNR, f"PSNR {quality:.2f} dB, under {probes.MIN_PSNR} dB"
    assert accuracy >= probes.MIN_BIT_ACCURACY, f"the package's decoder read {accuracy:.1%} of the bits"


@pytest.mark.points(2)
@pytest.mark.covers("decode")
def test_you_read_the_package_watermark(equivalence, probes):
    marked = probes.package_encode(probes.natural_image(IMAGE_SEED).numpy(), probes.message(MESSAGE_SEED))
    equivalence.check("decode", rtol=0, atol=0, image=torch.from_numpy(marked))


@pytest.mark.points(2)
@pytest.mark.covers("sdxl")
def test_sdxl_watermarker(submission, probes):
    images = probes.sdxl_batch(IMAGE_SEED)
    probes.judge_sdxl(submission, figures, images)
