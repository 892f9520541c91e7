"""invisible-watermark: embed and decode a 48-bit message as SDXL's watermarker does (dwtDct). See README.md."""

from diffusers.pipelines.stable_diffusion_xl.watermark import WATERMARK_BITS  # noqa: F401  (SDXL's 48-bit message)


def encode(image, bits):
    raise NotImplementedError(
        "encode is not implemented yet: in the U channel's haar approximation band, quantise the largest "
        "coefficient of each 4x4 block to carry one bit of the message (see README.md)")


def decode(image, num_bits=48):
    raise NotImplementedError("decode is not implemented yet: read each block's bit and take each bit's majority "
                              "vote (see README.md)")


def apply_watermark(images):
    raise NotImplementedError("apply_watermark is not implemented yet: SDXL's watermarker around encode "
                              "(see README.md)")
