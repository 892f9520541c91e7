"""Hidden tests for aspect-ratio-buckets: property-based over image sizes (hypothesis), judged here by an
independent oracle written with exact fractions.

Each property test draws its examples from a hypothesis seed, the test's hidden seed, recorded as the figure
``hypothesis_seed``: ``@hypothesis.seed(that value)`` on the same property replays the grade's examples, which
``examples_digest`` identifies. Nothing is written to disk (no example database) and there is no shrinking, so a
failing grade costs no extra round trips. The branches every secret must reach are pinned with ``@example``.
"""

import hashlib
import math
from contextlib import contextmanager
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants

from pytest_diffchallenge import figures
from pytest_diffchallenge.faults import MismatchError

SETTINGS = dict(database=None, deadline=None, phases=(Phase.explicit, Phase.generate), derandomize=False,
                report_multiple_bugs=False, suppress_health_check=list(HealthCheck))
BATCH = 12  # images per worker call: one round trip per hypothesis example

# Sizes: anything up to 320 px a side, and the extremes, far wider or taller than SDXL's widest bucket (1:4).
SIDE = st.integers(1, 320)
SIZES = st.one_of(st.tuples(SIDE, SIDE), st.tuples(st.integers(1, 6), st.integers(100, 400)),
                  st.tuples(st.integers(100, 400), st.integers(1, 6)))


@contextmanager
def seed_alone():
    """Hypothesis sometimes draws constants it finds in the source of the modules it deems local (the grader's),
    and caches them in .hypothesis/constants under the working directory. Off here: nothing is written, and the
    examples depend on the seed alone, in the grader or a replay. There is no public switch yet
    (HypothesisWorks/hypothesis#4627); hypothesis is pinned to 6.170."""
    collect = providers._get_local_constants
    providers._get_local_constants = Constants  # an empty pool of each kind
    providers.CONSTANTS_CACHE.cache.clear()  # pools of constants computed before
    try:
        yield
    finally:
        providers._get_local_constants = collect
        providers.CONSTANTS_CACHE.cache.clear()


# -- the oracle ---------------------------------------------------------------------------------------------------
def nearest_bucket(height, width, buckets):
    """Smallest exp(|log(w / h) - log(bw / bh)|), exactly; min() keeps the first of equal distances."""
    def distance(bucket):
        ratio = Fraction(width * bucket[0], height * bucket[1])
        return max(ratio, 1 / ratio)
    return tuple(min(buckets, key=distance))


def covering_size(height, width, bucket):
    scale = max(Fraction(bucket[0], height), Fraction(bucket[1], width))
    return tuple(math.floor(side * scale + Fraction(1, 2)) for side in (height, width))


def resized(image, size):
    resampled = F.interpolate(image[None].float(), size=size, mode="bilinear", antialias=True, align_corners=False)
    return resampled[0].round().clamp(0, 255).to(torch.uint8)


def _pair_of_ints(value, what):
    if not (isinstance(value, list) and len(value) == 2 and all(type(item) is int for item in value)):
        raise MismatchError(f"{what} is {value!r}, not a pair of ints")
    return tuple(value)


def judge(probes, record, size, buckets, image_seed, crop="center", flip=False, crop_seed=None):
    """Every property of one prepared image, against the oracle."""
    height, width = size
    where = f"an image of height {height} and width {width} ({crop} crop{', flipped' if flip else ''})"
    original, corner, target = (_pair_of_ints(record[key], f"{where}: {key}") for key in probes.RECORD_KEYS)
    if original != size:
        raise MismatchError(f"{where}: original_size is {original}, expected (height, width) {size}")
    bucket = nearest_bucket(height, width, buckets)
    if target != bucket:
        raise MismatchError(f"{where}: target_size is {target}, but the nearest bucket is {bucket}")
    pixels = record["pixels"]
    if not isinstance(pixels, torch.Tensor) or pixels.dtype != torch.uint8 or pixels.shape != (3, *bucket):
        raise MismatchError(f"{where}: pixels must be a uint8 tensor of shape (3, {bucket[0]}, {bucket[1]}), got "
                            f"{getattr(pixels, 'dtype', type(pixels).__name__)} {tuple(getattr(pixels, 'shape', ()))}")
    cover = covering_size(height, width, bucket)
    spare_rows, spare_columns = cover[0] - bucket[0], cover[1] - bucket[1]
    if crop == "center":
        top, left = spare_rows // 2, spare_columns // 2
    else:
        generator = torch.Generator().manual_seed(crop_seed)
        top, left = (int(torch.randint(0, spare + 1, (1,), generator=generator))
                     for spare in (spare_rows, spare_columns))
    source = resized(probes.image(image_seed, height, width), cover)
    if flip:
        source, left = source.flip(-1), cover[1] - left - bucket[1]
    if corner != (top, left):
        raise MismatchError(f"{where}: crops_coords_top_left is {corner}; resized to {cover} (height, width) it "
                            f"should be {(top, left)}")
    if not torch.equal(pixels, source[:, top:top + bucket[0], left:left + bucket[1]]):
        raise MismatchError(f"{where}: the pixels are not the window of the resized image at {(top, left)}")


def run_property(property_test, hidden_seed, drawn):
    """Run it on its seed, and record what replays it: the seed, and a digest of the examples drawn."""
    figures.record("hypothesis_seed", float(hidden_seed))
    try:
        with seed_alone():
            property_test()
    finally:
        digest = hashlib.sha256(repr(drawn).encode()).hexdigest()
        figures.record("examples_digest", float(int(digest, 16) % 2**52))


def assigned(submission, sizes, buckets):
    got = submission.call("assign_buckets", sizes=sizes, buckets=buckets)["buckets"]
    if not isinstance(got, list) or len(got) != len(sizes):
        raise MismatchError(f"assign_buckets replied {got!r} for {len(sizes)} sizes")
    return [_pair_of_ints(bucket, f"the bucket of (height, width) {size}")
            for size, bucket in zip(sizes, got, strict=True)]


# -- bucket assignment --------------------------------------------------------------------------------------------
BUCKET_LISTS = st.lists(st.tuples(st.integers(1, 12), st.integers(1, 12)), min_size=1, max_size=8)


@pytest.mark.points(3)
@pytest.mark.covers("nearest-bucket")
def test_nearest_bucket_over_random_sizes(submission, probes, hidden_seed):
    """SDXL's buckets and random small lists (which hold equal ratios and near ties), 40 sizes a call."""
    drawn = []

    @seed(hidden_seed)
    @settings(max_examples=6, **SETTINGS)
    @given(st.lists(SIZES, min_size=40, max_size=40), st.one_of(st.just(probes.SDXL_BUCKETS), BUCKET_LISTS))
    @example([(1, 1), (64, 64), (1080, 1920), (1920, 1080), (2, 1000), (1000, 2)], probes.SDXL_BUCKETS)
    def nearest_for_every_size(sizes, buckets):
        drawn.append((sizes, buckets))
        for size, bucket in zip(sizes, assigned(submission, sizes, buckets), strict=True):
            expected = nearest_bucket(*size, buckets)
            if bucket != expected:
                raise MismatchError(f"(height, width) {size} among {buckets}: got {bucket}, expected {expected}")

    run_property(nearest_for_every_size, hidden_seed, drawn)


TIES = {  # name: ((height, width), buckets) twice, the second time in another order: exact ties in log space
    "mirrored": [((1, 1), [(32, 64), (64, 32)]), ((1, 1), [(64, 32), (32, 64)])],
    "between": [((50, 100), [(64, 64), (32, 128)]), ((50, 100), [(32, 128), (64, 64)])],  # 2:1 between 1:1, 4:1
    "float-log": [((1, 4), [(1, 2), (1, 8)]), ((1, 4), [(1, 8), (1, 2)])],  # float logs call it for one side
    "equal-ratios": [((9, 9), [(32, 32), (64, 64), (16, 16)]), ((3, 4), [(36, 64), (16, 16), (72, 128)])],
}


@pytest.mark.points(1)
@pytest.mark.parametrize("name", TIES)
@pytest.mark.covers("ties")
def test_ties_go_to_the_first_bucket_listed(submission, hidden_seed, name):
    """A fixed tie, both ways round, at a scale drawn from the secret: a tie stays a tie at any scale."""
    scale = 1 + hidden_seed % 7
    for size, buckets in TIES[name]:
        size = [side * scale for side in size]
        got, expected = assigned(submission, [size], buckets)[0], nearest_bucket(*size, buckets)
        if got != expected:
            raise MismatchError(f"(height, width) {size} among {buckets}: got {got}, expected the first of the "
                                f"tied buckets, {expected}")


# -- resize, crop, flip and what is recorded ----------------------------------------------------------------------
# (height, width) pinned in every grade, each with its reason. On SDXL's buckets (scaled by 1/16):
PINNED = [
    (64, 64), (32, 128), (84, 48),  # exactly a bucket: nothing to resize or crop
    (128, 128), (16, 64),  # twice and half a bucket's size: scaled by 1/2 and 2, nothing to crop
    (100, 150), (40, 50),  # to 52 x 76 with 2 columns to spare; to 56 x 72 with 2 rows to spare
    (8, 25), (13, 48),  # 25 x 36/8 = 112.5 columns, 13 x 120/48 = 32.5 rows: halves round up (to odd numbers)
    (2, 3), (6, 1), (1, 6), (1, 1),  # tiny, beyond the widest and tallest buckets (to 192 x 32), one pixel
    (300, 127), (301, 99),  # one column or row to spare: the center crop leaves it to the right or below
    (200, 89), (200, 78),  # three columns or rows to spare: one before, two after (a crop offset of 1.5 floors)
]


def _check_batch(submission, probes, sizes, image_seed, crop=None, flips=None, crop_seeds=None):
    """``crop`` and ``flips`` left out (None) are left to prepare_image's defaults: a center crop, no flip."""
    records = submission.call("prepare_images", sizes=sizes, buckets=probes.SDXL_BUCKETS, image_seed=image_seed,
                              crop=crop, flips=flips, crop_seeds=crop_seeds)["records"]
    if len(records) != len(sizes):
        raise MismatchError(f"{len(records)} records for {len(sizes)} images")
    for index, (size, record) in enumerate(zip(sizes, records, strict=True)):
        judge(probes, record, tuple(size), probes.SDXL_BUCKETS, image_seed + index, crop or "center",
              bool(flips and flips[index]), crop_seeds[index] if crop_seeds else None)


@pytest.mark.points(2)
@pytest.mark.covers("resize", "center-crop", "micro-conditioning", "forbidden")
def test_pinned_sizes_center_crop(submission, probes, hidden_seed):
    """Exact buckets, exact scales, half-pixel rounding, tiny and extreme sizes, odd spare pixels; crop and flip
    left to their defaults."""
    _check_batch(submission, probes, PINNED, hidden_seed)


@pytest.mark.points(4)
@pytest.mark.covers("nearest-bucket", "resize", "center-crop", "micro-conditioning", "forbidden")
def test_center_crop_over_random_sizes(submission, probes, hidden_seed):
    drawn = []

    @seed(hidden_seed)
    @settings(max_examples=4, **SETTINGS)
    @given(st.lists(SIZES, min_size=BATCH, max_size=BATCH), st.integers(0, 2**31 - BATCH))
    def prepared_like_the_oracle(sizes, image_seed):
        drawn.append((sizes, image_seed))
        _check_batch(submission, probes, sizes, image_seed, "center")

    run_property(prepared_like_the_oracle, hidden_seed, drawn)


CROP_SEED = st.integers(0, 2**63 - 1)


@pytest.mark.points(3)
@pytest.mark.covers("random-crop", "micro-conditioning")
def test_random_crop_over_random_sizes(submission, probes, hidden_seed):
    """Pinned: rows to spare (the width binds), columns to spare (the height binds), and none."""
    drawn = []

    @seed(hidden_seed)
    @settings(max_examples=4, **SETTINGS)
    @given(st.lists(st.tuples(SIZES, CROP_SEED), min_size=BATCH, max_size=BATCH), st.integers(0, 2**31 - BATCH))
    @example([((200, 78), 1), ((200, 89), 2), ((64, 64), 3), ((40, 50), 4)], 5)
    def drawn_as_stated(images, image_seed):
        drawn.append((images, image_seed))
        sizes, crop_seeds = zip(*images, strict=True)
        _check_batch(submission, probes, list(sizes), image_seed, "random", crop_seeds=list(crop_seeds))

    run_property(drawn_as_stated, hidden_seed, drawn)


@pytest.mark.points(2)
@pytest.mark.parametrize("crop", ["center", "random"])
@pytest.mark.covers("flip", "micro-conditioning")
def test_flips_over_random_sizes(submission, probes, hidden_seed, crop):
    """Flipped and not, in one batch. Pinned: spare columns (the left coordinate moves) and none."""
    drawn = []

    @seed(hidden_seed)
    @settings(max_examples=3, **SETTINGS)
    @given(st.lists(st.tuples(SIZES, CROP_SEED, st.booleans()), min_size=BATCH, max_size=BATCH),
           st.integers(0, 2**31 - BATCH))
    @example([((200, 89), 1, True), ((200, 89), 1, False), ((200, 78), 2, True), ((32, 128), 3, True)], 4)
    def mirrored_window(images, image_seed):
        drawn.append((images, image_seed))
        sizes, crop_seeds, flips = zip(*images, strict=True)
        _check_batch(submission, probes, list(sizes), image_seed, crop, flips=list(flips),
                     crop_seeds=list(crop_seeds) if crop == "random" else None)

    run_property(mirrored_window, hidden_seed, drawn)
