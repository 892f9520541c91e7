"""invisible-watermark: the reference. The dwtDct scheme of the `invisible-watermark` package, which SDXL's
watermarker uses: in the U channel's one-level haar approximation band, the largest-magnitude coefficient of
each 4x4 block (its first coefficient left out) is quantised to carry one bit, the message tiled over the blocks
in row-major order; decoding reads each block's bit back and takes the majority of each bit's votes."""

import cv2
import numpy as np
import pywt
import torch
from diffusers.pipelines.stable_diffusion_xl.watermark import WATERMARK_BITS  # SDXL's 48-bit message

SCALE = 36  # the package's quantisation step for the U channel
BLOCK = 4
CHANNEL = 1  # U of YUV: the only channel the package's dwtDct marks by default
MIN_WIDTH = 256
# OpenCV offsets chroma by 128 for uint8 images but by 0.5 for float ones: the encoder works in float and
# must see the U values the decoder sees in uint8 (all positive, ~128), or its peaks and steps are not the same.
CHROMA_SHIFT = 128 - 0.5


def _approximation(bgr):
    """The YUV image (float), the U channel's haar approximation and details over the rows and columns that
    make whole 2x2 pairs of 2x2 blocks (a multiple of 4, as the package crops)."""
    rows, cols = bgr.shape[0] // 4 * 4, bgr.shape[1] // 4 * 4
    yuv = cv2.cvtColor(np.asarray(bgr, dtype=np.float32), cv2.COLOR_BGR2YUV)
    approximation, details = pywt.dwt2(yuv[:rows, :cols, CHANNEL].astype(np.float64) + CHROMA_SHIFT, "haar")
    return yuv, approximation, details, (rows, cols)


def _blocks(approximation):
    """The 4x4 blocks of the approximation band, row-major, each flattened: (blocks, 16)."""
    rows, cols = approximation.shape[0] // BLOCK, approximation.shape[1] // BLOCK
    tiles = approximation[:rows * BLOCK, :cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK)
    return tiles.transpose(0, 2, 1, 3).reshape(rows * cols, BLOCK * BLOCK), (rows, cols)


def _peaks(blocks):
    """Each block's largest-magnitude coefficient after the first, as the package's decoder picks it."""
    position = np.abs(blocks[:, 1:]).argmax(axis=1) + 1
    return position, blocks[np.arange(len(blocks)), position]


def encode(image, bits):
    """``image``: uint8 BGR (H, W, 3), H * W >= 256 * 256; ``bits``: the message, 0s and 1s. Returns the
    watermarked uint8 BGR image."""
    bits = np.asarray(bits, dtype=np.int64)
    yuv, approximation, details, (rows, cols) = _approximation(image)
    blocks, grid = _blocks(approximation)
    position, peak = _peaks(blocks)
    magnitude = np.abs(peak)
    others = np.sort(np.abs(blocks[:, 1:]), axis=1)[:, -2]
    block_bits = np.resize(bits, len(blocks))
    # The value carrying the bit sits a quarter or three quarters into a step of SCALE. Of the nearest such
    # values, take the closest that keeps this coefficient the block's largest: otherwise the decoder reads
    # another coefficient, whose bit is a coin toss.
    steps = np.floor(magnitude / SCALE)[:, None] + np.arange(-1, 3)
    candidates = (steps + 0.25 + 0.5 * block_bits[:, None]) * SCALE
    cost = np.where(candidates >= others[:, None], np.abs(candidates - magnitude[:, None]), np.inf)
    target = candidates[np.arange(len(blocks)), cost.argmin(axis=1)]
    blocks[np.arange(len(blocks)), position] = np.where(peak < 0, -target, target)
    block_rows, block_cols = grid
    approximation[:block_rows * BLOCK, :block_cols * BLOCK] = (
        blocks.reshape(block_rows, block_cols, BLOCK, BLOCK).transpose(0, 2, 1, 3)
        .reshape(block_rows * BLOCK, block_cols * BLOCK))
    yuv[:rows, :cols, CHANNEL] = pywt.idwt2((approximation, details), "haar") - CHROMA_SHIFT
    # One rounding, at the very end: rounding the U channel on its own first would move the peaks again.
    return np.clip(np.rint(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR)), 0, 255).astype(np.uint8)


def decode(image, num_bits=48):
    """The ``num_bits`` bits in a uint8 BGR image, as a list of 0s and 1s."""
    yuv = cv2.cvtColor(np.asarray(image, dtype=np.uint8), cv2.COLOR_BGR2YUV)  # uint8, as the package reads it
    rows, cols = yuv.shape[0] // 4 * 4, yuv.shape[1] // 4 * 4
    approximation, _ = pywt.dwt2(yuv[:rows, :cols, CHANNEL].astype(np.float64), "haar")
    blocks, _ = _blocks(approximation)
    _, peak = _peaks(blocks)
    votes = (np.abs(peak) % SCALE > 0.5 * SCALE).astype(np.float64)
    bit_of_block = np.arange(len(blocks)) % num_bits
    ones = np.bincount(bit_of_block, weights=votes, minlength=num_bits)
    counts = np.bincount(bit_of_block, minlength=num_bits)
    return [int(bit) for bit in ones * 255 > 127 * counts]  # the package's threshold: mean * 255 > 127


def apply_watermark(images):
    """SDXL's watermarker: ``images`` (B, 3, H, W) RGB in [-1, 1]; each gets WATERMARK_BITS, and the batch
    comes back in [-1, 1]. Images narrower than 256 pixels come back as they are."""
    if images.shape[-1] < MIN_WIDTH:
        return images
    pixels = (255 * (images / 2 + 0.5)).cpu().permute(0, 2, 3, 1).float().numpy()
    marked = [encode(np.clip(np.rint(image[:, :, ::-1]), 0, 255).astype(np.uint8), WATERMARK_BITS)[:, :, ::-1]
              for image in pixels]
    marked = torch.from_numpy(np.stack(marked)).permute(0, 3, 1, 2).float()
    return torch.clamp(2 * (marked / 255 - 0.5), min=-1.0, max=1.0)
