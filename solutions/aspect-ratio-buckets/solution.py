"""Reference solution for aspect-ratio-buckets: SDXL dataset preparation with aspect-ratio buckets and the
micro-conditioning its UNet needs (Podell et al., 2023, sections 2.2 and 2.3)."""

import torch
import torch.nn.functional as F


def ratio_distance(height: int, width: int, bucket_height: int, bucket_width: int) -> tuple[int, int]:
    """exp(|log(w / h) - log(bw / bh)|) as an exact fraction (numerator, denominator), at least 1."""
    image_side, bucket_side = width * bucket_height, height * bucket_width
    return max(image_side, bucket_side), min(image_side, bucket_side)


def assign_bucket(height: int, width: int, buckets) -> tuple[int, int]:
    best = None
    for bucket_height, bucket_width in buckets:
        numerator, denominator = ratio_distance(height, width, bucket_height, bucket_width)
        # a / b < c / d compared across, in integers: ties are exact and stay with the first bucket listed
        if best is None or numerator * best[1] < best[0] * denominator:
            best = (numerator, denominator, bucket_height, bucket_width)
    return best[2], best[3]


def round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def covering_size(height: int, width: int, bucket_height: int, bucket_width: int) -> tuple[int, int]:
    """The size scaled by max(bh / h, bw / w): the binding side is the bucket's, the other rounded half up."""
    if bucket_height * width >= bucket_width * height:
        return bucket_height, round_half_up(width * bucket_height, height)
    return round_half_up(height * bucket_width, width), bucket_width


def prepare_image(image: torch.Tensor, buckets, crop: str = "center", flip: bool = False,
                  generator: torch.Generator | None = None) -> dict:
    _, height, width = image.shape
    bucket_height, bucket_width = assign_bucket(height, width, buckets)
    resized_height, resized_width = covering_size(height, width, bucket_height, bucket_width)
    resized = F.interpolate(image[None].float(), size=(resized_height, resized_width), mode="bilinear",
                            antialias=True, align_corners=False)[0]
    resized = resized.round().clamp(0, 255).to(torch.uint8)

    spare_rows, spare_columns = resized_height - bucket_height, resized_width - bucket_width
    if crop == "center":
        top, left = spare_rows // 2, spare_columns // 2
    else:
        # both drawn even when a side has nothing to spare, so the generator always advances alike
        top = int(torch.randint(0, spare_rows + 1, (1,), generator=generator))
        left = int(torch.randint(0, spare_columns + 1, (1,), generator=generator))
    pixels = resized[:, top:top + bucket_height, left:left + bucket_width]
    if flip:
        # the output is then the window of the mirrored resized image that starts this far from its left edge
        pixels = pixels.flip(-1)
        left = resized_width - left - bucket_width
    return {"pixels": pixels, "original_size": (height, width), "crops_coords_top_left": (top, left),
            "target_size": (bucket_height, bucket_width)}
