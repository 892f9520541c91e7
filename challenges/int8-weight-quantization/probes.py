"""Trusted helpers for int8-weight-quantization. The probes run in the worker beside your code: they build the
layer or model, quantize it with your functions and send back what the quantized modules hold, as tensors. The
judging helpers run in the grader: they recompute every code and scale in float64 from the fp32 weights, and
count the bytes themselves, from the storages sent back."""

import torch
from torch import nn

from pytest_diffchallenge import recipes
from pytest_diffchallenge.faults import MismatchError

INT8_MAX = 127
# Quotients w / scale this close to a tie (k + 0.5) may round either way: an fp32 division may land on the tie.
TIE_WIDTH = 1e-4
MEMORY_CEILING = 0.30  # of the fp32 weight's bytes


# -- in the worker ------------------------------------------------------------------------------------------------
def held_storages(module: nn.Module) -> list[torch.Tensor]:
    """Every distinct storage behind a tensor the module holds: parameters, buffers and attributes, in lists,
    tuples, sets and dicts too, its submodules' and those of any module kept as an attribute. Each comes back as
    a uint8 tensor of all its bytes."""
    storages, visited = {}, set()

    def visit(value):
        if isinstance(value, torch.Tensor):
            storage = value.untyped_storage()
            storages.setdefault((storage.data_ptr(), storage.nbytes()), storage)
        elif isinstance(value, nn.Module):
            if id(value) not in visited:
                visited.add(id(value))
                visit(list(vars(value).values()))
        elif isinstance(value, dict):
            visit(list(value.values()))
        elif isinstance(value, (list, tuple, set)):
            for item in value:
                visit(item)

    visit(module)
    return [torch.empty(0, dtype=torch.uint8).set_(storage) for storage in storages.values()]


def quantized_state(module: nn.Module) -> dict:
    return {"weight_int8": module.weight_int8, "scale": module.scale, "bias": module.bias,
            "held": held_storages(module), "type": type(module).__name__}


def linear(solution, weight, bias, inputs):
    """nn.Linear with this weight and bias (None: bias=False), quantized, then called on each of ``inputs``."""
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    quantized = solution.quantize_linear(layer)
    del layer
    with torch.no_grad():
        outputs = [quantized(x) for x in inputs]
    return {**quantized_state(quantized), "outputs": outputs}


def unet_inputs(data_seed: int, sdxl: bool) -> dict:
    batch = 2
    text_dim = 64 if sdxl else recipes.TEXT_DIM
    inputs = {"sample": recipes.seeded_randn((batch, 4, 8, 8), data_seed), "timestep": 500,
              "encoder_hidden_states": recipes.seeded_randn((batch, 7, text_dim), data_seed + 1)}
    if sdxl:
        inputs["added_cond_kwargs"] = {"text_embeds": recipes.seeded_randn((batch, 32), data_seed + 2),
                                       "time_ids": torch.tensor([[64.0, 64.0, 0.0, 0.0, 64.0, 64.0]] * batch)}
    return inputs


def linear_names(model: nn.Module) -> list[str]:
    return [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]


def unet(solution, unet_seed, data_seed, sdxl=False):
    """A tiny UNet through quantize_model: its output, and what sits where each nn.Linear was."""
    model = recipes.tiny_unet(unet_seed, sdxl=sdxl)
    names = linear_names(model)
    model = solution.quantize_model(model)
    with torch.no_grad():
        sample = model(**unet_inputs(data_seed, sdxl)).sample
    return {"sample": sample, "modules": {name: quantized_state(model.get_submodule(name)) for name in names}}


# -- in the grader ------------------------------------------------------------------------------------------------
def expected_scale(weight: torch.Tensor) -> torch.Tensor:
    """max|w_row| / 127 in float64, rounded once to fp32 (the fp32 division's own result)."""
    return (weight.double().abs().amax(dim=1) / INT8_MAX).float()


def judge_codes_and_scales(reply: dict, weight: torch.Tensor, where: str = "") -> None:
    codes, scale = reply["weight_int8"], reply["scale"]
    out_features, in_features = weight.shape
    if not isinstance(codes, torch.Tensor) or codes.dtype != torch.int8 or codes.shape != weight.shape:
        raise MismatchError(f"{where}weight_int8 must be an int8 tensor of shape {tuple(weight.shape)}, got "
                            f"{getattr(codes, 'dtype', type(codes))} {tuple(getattr(codes, 'shape', ()))}")
    if not isinstance(scale, torch.Tensor) or scale.dtype != torch.float32 or scale.shape != (out_features,):
        raise MismatchError(f"{where}scale must be an fp32 tensor of shape ({out_features},), got "
                            f"{getattr(scale, 'dtype', type(scale))} {tuple(getattr(scale, 'shape', ()))}")
    zero_rows = weight.abs().amax(dim=1) == 0
    wanted = torch.where(zero_rows, scale, expected_scale(weight))
    if not torch.equal(scale, wanted):
        row = (scale != wanted).nonzero()[0].item()
        raise MismatchError(f"{where}scale of row {row} is {scale[row].item()!r}, expected max|w| / 127 = "
                            f"{wanted[row].item()!r}")
    if not (torch.isfinite(scale) & (scale > 0)).all():
        raise MismatchError(f"{where}an all-zero row got the scale {scale[zero_rows].tolist()[:4]}: not finite and "
                            "positive")
    quotient = weight.double() / torch.where(zero_rows, 1.0, scale.double())[:, None]
    nearest = torch.round(quotient)  # ties to even
    distance_to_tie = (quotient - quotient.floor() - 0.5).abs()
    other = torch.where(quotient > nearest, nearest + 1, nearest - 1)
    near_tie = (distance_to_tie < TIE_WIDTH) & (distance_to_tie > 0)
    got = codes.double()
    wrong = (got != nearest) & ~(near_tie & (got == other))
    if wrong.any():
        row, column = wrong.nonzero()[0].tolist()
        raise MismatchError(f"{where}{int(wrong.sum())} of {codes.numel()} codes differ from round(w / scale); first "
                            f"at [{row}, {column}]: {int(got[row, column])}, expected {int(nearest[row, column])} "
                            f"(w / scale = {quotient[row, column].item():.6f})")


def judge_bias(reply: dict, bias: torch.Tensor | None, where: str = "") -> None:
    got = reply["bias"]
    if bias is None:
        if got is not None:
            raise MismatchError(f"{where}a Linear without bias gave a bias")
    elif not isinstance(got, torch.Tensor) or got.dtype != torch.float32 or not torch.equal(got, bias):
        raise MismatchError(f"{where}the bias must be the Linear's own, in fp32")


def judge_memory(reply: dict, weight: torch.Tensor, bias: torch.Tensor | None, where: str = "") -> int:
    """The bytes of every storage the module holds, less the bias's own bytes; returns them."""
    held = sum(storage.numel() for storage in reply["held"])
    if bias is not None:
        held -= bias.numel() * bias.element_size()
    ceiling = MEMORY_CEILING * weight.numel() * 4
    if held > ceiling:
        raise MismatchError(f"{where}the quantized module holds {held} bytes besides its bias: "
                            f"{held / (weight.numel() * 4):.1%} of the fp32 weight, over {MEMORY_CEILING:.0%}")
    return held


def judge_outputs(reply: dict, inputs: list, rtol: float) -> None:
    """Against x @ (codes * scale)^T + bias in float64, from the module's own codes and scales: each element within
    rtol of its error scale |x| @ |W|^T + |bias| (the sum of the magnitudes that fp32 rounding works on)."""
    weight = reply["weight_int8"].double() * reply["scale"].double()[:, None]
    bias = reply["bias"]
    for index, (x, got) in enumerate(zip(inputs, reply["outputs"], strict=True)):
        truth = x.double() @ weight.T
        magnitude = x.double().abs() @ weight.abs().T
        if bias is not None:
            truth = truth + bias.double()
            magnitude = magnitude + bias.double().abs()
        if not isinstance(got, torch.Tensor) or got.dtype != torch.float32 or got.shape != truth.shape:
            raise MismatchError(f"input {index}: the output must be fp32 of shape {tuple(truth.shape)}, got "
                                f"{getattr(got, 'dtype', type(got))} {tuple(getattr(got, 'shape', ()))}")
        ratio = ((got.double() - truth).abs() / magnitude.clamp(min=1e-30)).max().item()
        if not ratio <= rtol:
            raise MismatchError(f"input {index}: the output is off the dequantized weight's x @ W^T + b by "
                                f"{ratio:.2e} of |x| @ |W|^T + |b|, over {rtol:.0e}")


def judge_unet(reply: dict, unet_seed: int, data_seed: int, sdxl: bool, bound: float) -> None:
    """Every former nn.Linear judged like a single layer; the output within ``bound`` * max|fp32 output|."""
    model = recipes.tiny_unet(unet_seed, sdxl=sdxl)
    names = linear_names(model)
    for name in names:
        layer, state = model.get_submodule(name), reply["modules"][name]
        where = f"{name} ({state['type']}): "
        judge_codes_and_scales(state, layer.weight.detach(), where)
        judge_bias(state, None if layer.bias is None else layer.bias.detach(), where)
        judge_memory(state, layer.weight, layer.bias, where)
    with torch.no_grad():
        reference = model(**unet_inputs(data_seed, sdxl)).sample
    error = (reply["sample"] - reference).abs().max().item() / reference.abs().max().item()
    if not error <= bound:
        raise MismatchError(f"the quantized UNet is off the fp32 UNet by {error:.2e} of its largest output, "
                            f"over {bound:.0e}")
