"""Hidden tests for invisible-watermark: images and messages come from the run's secret seed; the sizes, the
attacks and the branches each test reaches never depend on it. The figures are measured here, with the
package's own dwtDct decoder, and the package's figures on the same image are recorded beside the candidate's."""

import pytest
import torch

from pytest_diffchallenge import figures

ATTACKED_SIZE = (512, 512)
SDXL_SIZE = (1024, 1024)  # resizing blurs the marks: graded at SDXL's size, whose 4x the votes outvote the blur
ODD_SIZE = (391, 519)  # not multiples of 4: the package reads the rows and columns up to a multiple of 4 (a
# haar transform of all 391 rows and 519 columns would make one more row and column of blocks)


def _graded(submission, probes, hidden_seed, attack=None, size=ATTACKED_SIZE, image=None):
    bits = probes.message(hidden_seed + 1)
    image = probes.natural_image(hidden_seed, *size) if image is None else image
    quality, accuracy = probes.judge(submission, figures, image, bits, attack)
    assert quality >= probes.MIN_PSNR, f"PSNR {quality:.2f} dB, under {probes.MIN_PSNR} dB"
    assert accuracy >= probes.MIN_BIT_ACCURACY, \
        f"after {attack or 'no attack'}, the package's decoder read {accuracy:.1%} of the bits"


@pytest.mark.points(2)
@pytest.mark.covers("encode", "psnr")
def test_a_secret_message_in_an_odd_sized_image(submission, probes, hidden_seed):
    _graded(submission, probes, hidden_seed, size=ODD_SIZE)


@pytest.mark.points(3)
@pytest.mark.covers("resize", "psnr")
def test_survives_resizing(submission, probes, hidden_seed):
    _graded(submission, probes, hidden_seed, attack="resize", size=SDXL_SIZE)
    # JPEG at quality 75 erases dwtDct's marks, the package's own as well (see README.md): figures only.
    probes.judge(submission, figures, probes.natural_image(hidden_seed), probes.message(hidden_seed + 1), "jpeg75")


@pytest.mark.points(3)
@pytest.mark.covers("crop", "psnr")
def test_survives_cropping(submission, probes, hidden_seed):
    _graded(submission, probes, hidden_seed, attack="crop")


@pytest.mark.points(2)
@pytest.mark.covers("encode", "psnr")
def test_saturated_regions(submission, probes, hidden_seed):
    """White and black patches: the marked colours leave [0, 255] there, and must be clipped, not wrapped."""
    image = probes.natural_image(hidden_seed).clone()
    image[64:192, 64:192] = 255
    image[320:448, 256:384] = 0
    _graded(submission, probes, hidden_seed, image=image)


def _package_image(probes, seed, num_bits=48, size=ATTACKED_SIZE):
    image = probes.natural_image(seed, *size).numpy()
    return probes.package_encode(image, probes.message(seed + 1, num_bits))


@pytest.mark.points(2)
@pytest.mark.covers("decode")
def test_decode_a_secret_message(equivalence, probes, hidden_seed):
    marked = _package_image(probes, hidden_seed, size=ODD_SIZE)
    equivalence.check("decode", rtol=0, atol=0, image=torch.from_numpy(marked))


@pytest.mark.points(1)
@pytest.mark.covers("decode")
@pytest.mark.parametrize("attack", ["resize", "crop", "jpeg75"])
def test_decode_attacked_images_as_the_package_does(equivalence, probes, hidden_seed, attack):
    attacked = probes.ATTACKS[attack](_package_image(probes, hidden_seed))
    equivalence.check("decode", rtol=0, atol=0, image=torch.from_numpy(attacked))


@pytest.mark.points(1)
@pytest.mark.covers("decode")
def test_decode_32_bits(equivalence, probes, hidden_seed):
    marked = _package_image(probes, hidden_seed, num_bits=32)
    equivalence.check("decode", rtol=0, atol=0, image=torch.from_numpy(marked), num_bits=32)


@pytest.mark.points(1)
@pytest.mark.covers("sdxl")
def test_sdxl_skips_narrow_images(equivalence, probes, hidden_seed):
    # 320 high, 255 wide (one pixel short): SDXL's watermarker looks at the width only
    equivalence.check("apply_watermark", rtol=0, atol=0, images=probes.sdxl_batch(hidden_seed, height=320, width=255))


@pytest.mark.points(2)
@pytest.mark.covers("sdxl", "forbidden")
def test_sdxl_watermarker_on_a_secret_batch(submission, probes, hidden_seed):
    probes.judge_sdxl(submission, figures, probes.sdxl_batch(hidden_seed, batch=3, height=256, width=320))
