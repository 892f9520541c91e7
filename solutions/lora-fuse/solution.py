"""Reference solution for lora-fuse: LoRA fused into the UNet's own Linear weights, and taken out again.

unfuse_lora subtracts the same update that fuse_lora added, recomputed from the A and B kept on the UNet: that
costs rank * (in + out) numbers per adapted layer instead of a copy of every fused weight."""

import torch

FUSED = "_fused_lora_updates"  # on the UNet: what unfuse_lora must take out again


def _updates(adapters, lora_scale):
    """(module name, factor, A, B) for every adapted module of every adapter."""
    for adapter in adapters:
        state_dict = adapter["state_dict"]
        for key, down in state_dict.items():
            if not key.endswith(".lora_A.weight"):
                continue
            module = key.removesuffix(".lora_A.weight")
            up = state_dict[f"{module}.lora_B.weight"]
            rank = down.shape[0]  # A is rank x in_features
            yield module, lora_scale * adapter["weight"] * adapter["alpha"] / rank, down, up


def _apply(unet, updates, sign) -> None:
    modules = dict(unet.named_modules())
    with torch.no_grad():
        for module, factor, down, up in updates:
            weight = modules[module].weight
            # At least fp32 for the product and the sum, then a single rounding to the weight's own dtype.
            compute = torch.promote_types(weight.dtype, torch.float32)
            update = factor * (up.to(compute) @ down.to(compute))
            weight.copy_((weight.to(compute) + sign * update).to(weight.dtype))


def fuse_lora(unet, adapters: list[dict], lora_scale: float = 1.0) -> None:
    updates = list(_updates(adapters, lora_scale))
    _apply(unet, updates, +1)
    setattr(unet, FUSED, getattr(unet, FUSED, []) + updates)


def unfuse_lora(unet) -> None:
    # In reverse order of fusing; nothing fused (never, or already unfused): nothing to do.
    _apply(unet, reversed(getattr(unet, FUSED, [])), -1)
    setattr(unet, FUSED, [])
