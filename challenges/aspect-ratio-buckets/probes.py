"""Trusted helpers for aspect-ratio-buckets. The probes run in the worker with ``solution`` = your module: they
build the images there from seeds (so only sizes and seeds cross to the worker) and hand back what your code
returns. The tests judge it here, in the grader, from the same seeds."""

import torch

# SDXL's 40 training buckets (Podell et al., 2023, appendix I), as (height, width), scaled by 1/16 so that
# grading stays fast: multiples of 4 with an area close to 64^2, every SDXL aspect ratio kept.
SDXL_BUCKETS = [(h // 16, w // 16) for h, w in (
    (512, 2048), (512, 1984), (512, 1920), (512, 1856), (576, 1792), (576, 1728), (576, 1664), (640, 1600),
    (640, 1536), (704, 1472), (704, 1408), (704, 1344), (768, 1344), (768, 1280), (832, 1216), (832, 1152),
    (896, 1152), (896, 1088), (960, 1088), (960, 1024), (1024, 1024), (1024, 960), (1088, 960), (1088, 896),
    (1152, 896), (1152, 832), (1216, 832), (1280, 768), (1344, 768), (1344, 704), (1408, 704), (1472, 704),
    (1536, 640), (1600, 640), (1664, 576), (1728, 576), (1792, 576), (1856, 512), (1920, 512), (1984, 512),
    (2048, 512))]
RECORD_KEYS = ("original_size", "crops_coords_top_left", "target_size")


def image(seed: int, height: int, width: int) -> torch.Tensor:
    """A (3, height, width) uint8 image of random pixels: every crop offset and every flip shows in them."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, height, width), generator=generator, dtype=torch.uint8)


def _pairs(values) -> list[tuple[int, int]]:
    return [tuple(value) for value in values]  # pairs arrive as JSON lists


def _pair(value):
    """A returned pair as a JSON list, its items as they are: a tensor or a float stays one, and is refused."""
    return [*value] if isinstance(value, (tuple, list)) else value


def assign_buckets(solution, sizes, buckets) -> dict:
    """``assign_bucket`` for each (height, width) in ``sizes``."""
    buckets = _pairs(buckets)
    return {"buckets": [_pair(solution.assign_bucket(height, width, buckets)) for height, width in sizes]}


def prepare_images(solution, sizes, buckets, image_seed: int, crop=None, flips=None, crop_seeds=None) -> dict:
    """``prepare_image`` for each (height, width) in ``sizes``: the image ``image(image_seed + index, ...)``, with
    ``crop`` and each image's entry of ``flips`` when given (else their defaults), and with ``crop_seeds``, a fresh
    generator seeded with the image's entry."""
    buckets = _pairs(buckets)
    records = []
    for index, (height, width) in enumerate(sizes):
        options = {} if crop is None else {"crop": crop}
        if flips is not None:
            options["flip"] = bool(flips[index])
        if crop_seeds is not None:
            options["generator"] = torch.Generator().manual_seed(crop_seeds[index])
        record = solution.prepare_image(image(image_seed + index, height, width), buckets, **options)
        records.append({"pixels": record["pixels"], **{key: _pair(record[key]) for key in RECORD_KEYS}})
    return {"records": records}
