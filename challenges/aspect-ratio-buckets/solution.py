"""aspect-ratio-buckets: SDXL dataset preparation with aspect-ratio buckets. See README.md."""

import torch


def assign_bucket(height: int, width: int, buckets) -> tuple[int, int]:
    raise NotImplementedError("assign_bucket: the (height, width) bucket nearest in aspect ratio in log space, "
                              "compared exactly, ties to the first listed (see README.md)")


def prepare_image(image: torch.Tensor, buckets, crop: str = "center", flip: bool = False,
                  generator: torch.Generator | None = None) -> dict:
    raise NotImplementedError("prepare_image: resize to cover the bucket, crop, maybe flip, and return the pixels with "
                              "original_size, crops_coords_top_left and target_size (see README.md)")
