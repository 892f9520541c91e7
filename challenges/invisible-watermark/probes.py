"""Trusted helpers for invisible-watermark. The probes run with ``solution`` = the candidate's module (in the
worker) or the `invisible-watermark` package itself (the oracle, in the grader). The images, the attacks and
the figures (PSNR, bit accuracy) are made and measured here, on the trusted side: the tests judge the images
the candidate returns with the package's own dwtDct decoder."""

from types import SimpleNamespace

import cv2
import numpy as np
import torch
from diffusers.pipelines.stable_diffusion_xl.watermark import WATERMARK_BITS, StableDiffusionXLWatermarker
from imwatermark import WatermarkDecoder, WatermarkEncoder

MESSAGE_BITS = 48
JPEG_QUALITY = 75
RESIZE_FACTOR = 0.75
CROP_BORDER = 16  # pixels cut off the top and the left edge
GRAY = 128


def package_encode(image, bits):
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", list(bits))
    return encoder.encode(image, "dwtDct")


def package_decode(image, num_bits=MESSAGE_BITS):
    return [int(bit) for bit in WatermarkDecoder("bits", num_bits).decode(image, "dwtDct")]


def _package_apply_watermark(images):
    return StableDiffusionXLWatermarker().apply_watermark(images)


ORACLE = SimpleNamespace(encode=package_encode, decode=package_decode, apply_watermark=_package_apply_watermark)


def natural_image(seed, height=512, width=512) -> torch.Tensor:
    """A seeded natural-looking uint8 BGR image (H, W, 3): a smooth colour field, stripes and a fine luminance
    texture (as in photographs, the colour varies more slowly than the brightness), a little colour noise."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand((5, 5, 3), generator=generator).numpy()
    field = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) * 160 + 48
    angle, frequency = torch.rand(2, generator=generator).numpy() * [np.pi, 0.15] + [0, 0.05]
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    stripes = 12 * np.sin(frequency * (np.cos(angle) * cols + np.sin(angle) * rows))
    texture = 12 * cv2.GaussianBlur(torch.randn((height, width), generator=generator).numpy(), (0, 0), 1.0)
    colour_noise = 2 * torch.randn((height, width, 3), generator=generator).numpy()
    image = field + (stripes + texture)[..., None] + colour_noise
    return torch.from_numpy(np.clip(np.rint(image), 0, 255).astype(np.uint8))


def message(seed, num_bits=MESSAGE_BITS) -> list[int]:
    return torch.randint(0, 2, (num_bits,), generator=torch.Generator().manual_seed(seed)).tolist()


def sdxl_batch(seed, batch=2, height=256, width=256) -> torch.Tensor:
    """A batch as SDXL's VAE decodes it: (B, 3, H, W) RGB in [-1, 1]."""
    images = [natural_image(seed + index, height, width).numpy()[:, :, ::-1] for index in range(batch)]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


def to_bgr_uint8(images: torch.Tensor) -> list[np.ndarray]:
    """The inverse of ``sdxl_batch``: each image of a [-1, 1] RGB batch as uint8 BGR, rounded."""
    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return [np.ascontiguousarray(image[:, :, ::-1]) for image in pixels]


# The attacks. The package's dwtDct decoder reads a fixed block grid at the image's own size, so the decoder
# gets an attacked image back at the original size and place: resized back up, or pasted back onto gray.
def jpeg(image, quality=JPEG_QUALITY):
    _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


def resize(image, factor=RESIZE_FACTOR):
    """Down by ``factor`` (area interpolation), then back to the original size (bicubic: bilinear blurs a mark
    enough that about 1 image in 150 loses a few bits even from a careful encoder)."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def crop(image, border=CROP_BORDER):
    """The top and left ``border`` pixels cut off, what is left pasted back at its place on a gray canvas."""
    canvas = np.full_like(image, GRAY)
    canvas[border:, border:] = image[border:, border:]
    return canvas


ATTACKS = {"jpeg75": jpeg, "resize": resize, "crop": crop}


def psnr(original, marked) -> float:
    error = np.mean((np.asarray(original, np.float64) - np.asarray(marked, np.float64)) ** 2)
    return float(10 * np.log10(255 ** 2 / error)) if error else float("inf")


def bit_accuracy(bits, expected) -> float:
    return float(np.mean(np.asarray(bits) == np.asarray(expected)))


def _as_uint8_tensor(image) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.asarray(image)))


def encode(solution, image, bits):
    return {"image": _as_uint8_tensor(solution.encode(image.numpy(), list(bits)))}


def decode(solution, image, **options):
    """``num_bits`` is passed only when the test gives it (the default, 48, is graded too)."""
    return {"bits": [int(bit) for bit in solution.decode(image.numpy(), **options)]}


def apply_watermark(solution, images):
    return {"images": torch.as_tensor(solution.apply_watermark(images.clone()))}


# Trusted side: what the tests measure on the images the candidate returns, and on the package's own.
MIN_PSNR = 38.0
MIN_BIT_ACCURACY = 0.95


def judge(submission, figures, image, bits, attack=None):
    """The candidate's encoding of ``image`` and the package's, side by side: the PSNR of each and the bit
    accuracy the package's decoder reads from each (after ``attack``, a key of ATTACKS). Both are recorded as
    figures; returns the candidate's (PSNR, bit accuracy)."""
    marked = submission.call("encode", image=image, bits=bits)["image"]
    original = image.numpy()
    if marked.dtype != torch.uint8 or marked.shape != image.shape:
        raise AssertionError(f"encode returned {marked.dtype} {tuple(marked.shape)}, not uint8 {tuple(image.shape)}")
    results = {}
    for who, encoded in (("candidate", marked.numpy()), ("package", package_encode(original, bits))):
        read = package_decode(ATTACKS[attack](encoded) if attack else encoded, len(bits))
        results[who] = (psnr(original, encoded), bit_accuracy(read, bits))
        figures.record(f"psnr_db_{who}", round(results[who][0], 3))
        figures.record(f"bit_accuracy_{attack or 'clean'}_{who}", results[who][1])
    return results["candidate"]


def judge_sdxl(submission, figures, images):
    """SDXL's watermarker on ``images``, the candidate's and the package's: each image in the same shape and
    in [-1, 1], within MIN_PSNR of the original, and read by the package's decoder (WATERMARK_BITS)."""
    marked = submission.call("apply_watermark", images=images)["images"]
    if marked.shape != images.shape or marked.dtype != torch.float32:
        raise AssertionError(f"apply_watermark returned {marked.dtype} {tuple(marked.shape)}, "
                             f"not a float32 batch of {tuple(images.shape)}")
    if marked.min() < -1 or marked.max() > 1:
        raise AssertionError("apply_watermark returned values outside [-1, 1]")
    codes = (marked.double() + 1) * 127.5
    if (codes - codes.round()).abs().max() > 1e-3:  # fp32 holds 2 * (p / 255 - 0.5) to about 1e-5 of a code
        raise AssertionError("apply_watermark's values are not 2 * (p / 255 - 0.5) of uint8 pixels p")
    originals = to_bgr_uint8(images)
    for who, batch in (("candidate", marked), ("package", _package_apply_watermark(images.clone()))):
        pairs = list(zip(originals, to_bgr_uint8(batch), strict=True))
        quality = min(psnr(original, image) for original, image in pairs)
        accuracy = min(bit_accuracy(package_decode(image), WATERMARK_BITS) for _, image in pairs)
        figures.record(f"psnr_db_{who}", round(quality, 3))
        figures.record(f"bit_accuracy_clean_{who}", accuracy)
        if who == "candidate":
            assert quality >= MIN_PSNR, f"PSNR {quality:.2f} dB, under {MIN_PSNR} dB"
            assert accuracy >= MIN_BIT_ACCURACY, f"the package's decoder read {accuracy:.1%} of WATERMARK_BITS"
