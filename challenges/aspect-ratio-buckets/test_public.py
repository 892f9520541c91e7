"""Public tests for aspect-ratio-buckets: run them with `diffchallenge test`. The hidden tests check the same
properties over random image sizes drawn by hypothesis, against an oracle."""

import pytest
import torch


def _prepared(submission, probes, sizes, **options):
    return submission.call("prepare_images", sizes=sizes, buckets=probes.SDXL_BUCKETS, image_seed=7,
                           **options)["records"]


@pytest.mark.points(1)
@pytest.mark.covers("nearest-bucket")
def test_sdxl_buckets(submission, probes):
    """1080p landscape and portrait, 4:3 and one pixel, on SDXL's buckets scaled by 1/16."""
    got = submission.call("assign_buckets", sizes=[[1080, 1920], [1920, 1080], [768, 1024], [1, 1]],
                          buckets=probes.SDXL_BUCKETS)["buckets"]
    assert got == [[48, 84], [84, 48], [56, 72], [64, 64]]


@pytest.mark.points(1)
@pytest.mark.covers("micro-conditioning", "flip")
def test_an_image_of_a_buckets_size(submission, probes):
    """Nothing to resize or crop: the image itself, or its mirror image."""
    plain, flipped = _prepared(submission, probes, [[84, 48], [84, 48]], flips=[False, True])
    first, second = probes.image(7, 84, 48), probes.image(8, 84, 48)
    assert torch.equal(plain["pixels"], first) and torch.equal(flipped["pixels"], second.flip(-1))
    for record in (plain, flipped):
        assert (record["original_size"], record["crops_coords_top_left"], record["target_size"]) == (
            [84, 48], [0, 0], [84, 48])


@pytest.mark.points(2)
@pytest.mark.covers("resize", "center-crop", "flip", "micro-conditioning")
def test_worked_examples(submission, probes):
    """100 x 150 goes to the 52 x 76 bucket, resized to 52 x 78: two columns to spare, one each side.
    200 x 89 goes to 96 x 40, resized to 96 x 43: three to spare, one left of the window; flipped, two."""
    records = _prepared(submission, probes, [[100, 150], [200, 89], [200, 89]], flips=[False, False, True])
    expected = [([100, 150], [0, 1], [52, 76]), ([200, 89], [0, 1], [96, 40]), ([200, 89], [0, 2], [96, 40])]
    for record, want in zip(records, expected, strict=True):
        assert (record["original_size"], record["crops_coords_top_left"], record["target_size"]) == want
        assert record["pixels"].dtype == torch.uint8 and record["pixels"].shape == (3, *want[2])
