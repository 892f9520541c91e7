"""lora-fuse: fuse LoRA adapters into a UNet's weights, and unfuse them. See README.md."""


def fuse_lora(unet, adapters: list[dict], lora_scale: float = 1.0) -> None:
    raise NotImplementedError(
        "fuse_lora is not implemented yet: for every module named in each adapter's state dict, add "
        "lora_scale * weight * alpha / rank * B @ A to its weight, in place (see README.md)")


def unfuse_lora(unet) -> None:
    raise NotImplementedError(
        "unfuse_lora is not implemented yet: take out of the UNet's weights everything fuse_lora added, "
        "so that they are back to the base weights (see README.md)")
