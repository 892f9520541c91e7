"""Trusted helpers for lora-fuse. Each runs with ``solution`` = the candidate's module (in the worker) or a library
namespace (in the grader): diffusers' fuse_lora / unfuse_lora (``ORACLE``), peft's merge_and_unload
(``PEFT_MERGE``), or the unfused model with its adapters active (``UNFUSED``)."""

import zlib
from types import SimpleNamespace

import torch
from peft import LoraConfig, set_peft_model_state_dict
from peft.tuners.lora import LoraModel

from pytest_diffchallenge import recipes

# Which Linear layers each adapter targets (module-name suffixes): the usual cross-attention LoRA, one that overlaps
# it on attn2.to_q and reaches the self-attention and the feed-forward, and one outside the transformer blocks.
ADAPTER_TARGETS = (
    ("attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0"),
    ("attn1.to_q", "attn1.to_v", "attn2.to_q", "ff.net.0.proj", "ff.net.2"),
    ("time_emb_proj", "attn1.to_k"),
)
# Seeded LoRA weights: A with standard deviation in_features ** -0.5, B with a tenth of rank ** -0.5, so each update
# is about a tenth of the layer's input times its scale, as after some fine-tuning.
B_FILL = 0.1
BATCH = 2
PRECISIONS = {"float32": torch.float32, "float16": torch.float16}


# -- the libraries, under the candidate's names -------------------------------------------------------------------
def _metadata(state_dict, rank, alpha) -> dict:
    """The LoRA config that a state dict alone cannot hold: without it the loader assumes alpha == rank."""
    return {"r": rank, "lora_alpha": alpha, "target_modules": sorted({key.split(".lora_")[0] for key in state_dict})}


def _rank(state_dict) -> int:
    return next(tensor.shape[0] for key, tensor in state_dict.items() if key.endswith(".lora_A.weight"))


def _load_adapters(unet, adapters, lora_scale) -> None:
    """Each adapter loaded by diffusers' loader, all active, adapter i weighted weight_i * lora_scale."""
    names = []
    for index, adapter in enumerate(adapters):
        names.append(f"adapter_{index}")
        state_dict = adapter["state_dict"]
        unet.load_lora_adapter(dict(state_dict), prefix=None, adapter_name=names[-1],
                               metadata=_metadata(state_dict, _rank(state_dict), adapter["alpha"]))
    unet.set_adapters(names, [adapter["weight"] * lora_scale for adapter in adapters])


def _diffusers_fuse(unet, adapters, lora_scale=1.0):
    _load_adapters(unet, adapters, 1.0)
    unet.fuse_lora(lora_scale=lora_scale)


def _diffusers_unfuse(unet):
    unet.unfuse_lora()
    if getattr(unet, "peft_config", None):
        unet.unload_lora()  # back to the plain UNet, so that a later fuse loads its adapters afresh


def _peft_merge(unet, adapters, lora_scale=1.0):
    """peft's own route: a LoraModel with one adapter per state dict, merged and unloaded in place."""
    configs = {f"adapter_{index}": LoraConfig(r=_rank(adapter["state_dict"]), lora_alpha=adapter["alpha"],
                                              target_modules=_metadata(adapter["state_dict"], 0, 0)["target_modules"])
               for index, adapter in enumerate(adapters)}
    names = list(configs)
    model = LoraModel(unet, configs[names[0]], names[0])
    for name in names[1:]:
        model.peft_config[name] = configs[name]
        model.inject_adapter(unet, name)
    for name, adapter in zip(names, adapters, strict=True):
        set_peft_model_state_dict(unet, adapter["state_dict"], adapter_name=name)
    model.set_adapter(names)
    for module in unet.modules():
        if hasattr(module, "set_scale"):
            for name, adapter in zip(names, adapters, strict=True):
                module.set_scale(name, adapter["weight"] * lora_scale)
    model.merge_and_unload(adapter_names=names)


ORACLE = SimpleNamespace(fuse_lora=_diffusers_fuse, unfuse_lora=_diffusers_unfuse)
PEFT_MERGE = SimpleNamespace(fuse_lora=_peft_merge)
UNFUSED = SimpleNamespace(fuse_lora=_load_adapters)


# -- shared steps, identical on both sides ------------------------------------------------------------------------
def lora_adapters(unet, lora_seed, adapters, precision="float32", dtype=None) -> list[dict]:
    """One state dict per entry of ``adapters`` ({rank, alpha, weight}), for the Linear layers of ADAPTER_TARGETS,
    in peft's key format. The values depend only on the seed, the adapter and the module, drawn in fp64, rounded
    to ``precision`` and held in ``dtype`` (float64 for the truth: the same values, exactly)."""
    linears = {name: module for name, module in unet.named_modules() if isinstance(module, torch.nn.Linear)}
    result = []
    for index, spec in enumerate(adapters):
        state_dict = {}
        for name, linear in linears.items():
            if not name.endswith(ADAPTER_TARGETS[index]):
                continue
            seed = lora_seed + zlib.crc32(f"{index}.{name}".encode())
            down = recipes.seeded_randn((spec["rank"], linear.in_features), seed, scale=linear.in_features**-0.5)
            up = recipes.seeded_randn((linear.out_features, spec["rank"]), seed + 1, scale=B_FILL * spec["rank"]**-0.5)
            state_dict[f"{name}.lora_A.weight"] = down.to(PRECISIONS[precision]).to(dtype or PRECISIONS[precision])
            state_dict[f"{name}.lora_B.weight"] = up.to(PRECISIONS[precision]).to(dtype or PRECISIONS[precision])
        result.append({"state_dict": state_dict, "alpha": spec["alpha"], "weight": spec["weight"]})
    return result


def targeted_modules(adapters) -> list[str]:
    return sorted({key.split(".lora_")[0] for adapter in adapters for key in adapter["state_dict"]})


def base_weights(unet) -> dict:
    """The UNet's own parameters by name, as a peft-wrapped layer names them after unwrapping (its base_layer's)."""
    return {name.replace(".base_layer", ""): parameter.detach() for name, parameter in unet.named_parameters()
            if ".lora_" not in name}


def _unet(unet_seed, precision, dtype):
    return recipes.tiny_unet(unet_seed).to(PRECISIONS[precision]).to(dtype or PRECISIONS[precision])


def _setup(unet_seed, lora_seed, adapters, precision, dtype):
    unet = _unet(unet_seed, precision, dtype)
    lora = lora_adapters(unet, lora_seed, adapters, precision, dtype)
    originals = {name: weight.clone() for name, weight in base_weights(unet).items()}
    return unet, lora, originals


def _report(unet, lora, originals) -> dict:
    """Each targeted module's weight, and which other parameters (biases included) changed at all."""
    weights = base_weights(unet)
    targeted = {f"{module}.weight" for module in targeted_modules(lora)}
    report = {name: weights[name] for name in sorted(targeted)}
    report["changed_untargeted_parameters"] = sorted(
        name for name, original in originals.items()
        if name not in targeted and not torch.equal(weights[name], original))
    return report


def _fuse(solution, unet, lora, lora_scale) -> None:
    if lora_scale is None:  # the default lora_scale
        solution.fuse_lora(unet, lora)
    else:
        solution.fuse_lora(unet, lora, lora_scale)


def unet_inputs(unet, data_seed) -> dict:
    return dict(sample=recipes.seeded_randn((BATCH, 4, 8, 8), data_seed), timestep=torch.tensor([10, 700]),
                encoder_hidden_states=recipes.seeded_randn((BATCH, 6, unet.config.cross_attention_dim), data_seed + 1))


# -- probes ---------------------------------------------------------------------------------------------------------
def fused_weights(solution, unet_seed, lora_seed, adapters, lora_scale=None, precision="float32", dtype=None):
    """The targeted weights after fuse_lora (at its default lora_scale when None), and the untargeted parameters
    it changed."""
    unet, lora, originals = _setup(unet_seed, lora_seed, adapters, precision, dtype)
    _fuse(solution, unet, lora, lora_scale)
    return _report(unet, lora, originals)


def restored_weights(solution, unet_seed, lora_seed, adapters, lora_scale, precision="float32", dtype=None):
    """The targeted weights after fuse_lora then unfuse_lora (the truth: the originals), and what else changed."""
    unet, lora, originals = _setup(unet_seed, lora_seed, adapters, precision, dtype)
    solution.fuse_lora(unet, lora, lora_scale)
    solution.unfuse_lora(unet)
    return _report(unet, lora, originals)


def refused_weights(solution, unet_seed, lora_seed, adapters, lora_scale, first_scale, precision="float32",
                    dtype=None):
    """fuse_lora at first_scale, unfuse_lora, then fuse_lora again at lora_scale: as if fused once at lora_scale."""
    unet, lora, originals = _setup(unet_seed, lora_seed, adapters, precision, dtype)
    solution.fuse_lora(unet, lora, first_scale)
    solution.unfuse_lora(unet)
    _fuse(solution, unet, lora, lora_scale)
    return _report(unet, lora, originals)


def idle_unfuse(solution, unet_seed, lora_seed, adapters, lora_scale):
    """unfuse_lora before any fuse_lora, and a second unfuse_lora after one: the parameters each changed."""
    unet, lora, _ = _setup(unet_seed, lora_seed, adapters, "float32", None)

    def changed_by_unfuse() -> list[str]:
        before = {name: weight.clone() for name, weight in base_weights(unet).items()}
        solution.unfuse_lora(unet)
        after = base_weights(unet)
        return sorted(name for name, weight in before.items() if not torch.equal(after[name], weight))

    changed_before_fuse = changed_by_unfuse()
    solution.fuse_lora(unet, lora, lora_scale)
    solution.unfuse_lora(unet)
    return {"changed_by_unfuse_before_any_fuse": changed_before_fuse,
            "changed_by_a_second_unfuse": changed_by_unfuse()}


def unet_output(solution, unet_seed, lora_seed, adapters, lora_scale, data_seed):
    """The UNet's output after fuse_lora (for UNFUSED: with the adapters active and unmerged)."""
    unet = recipes.tiny_unet(unet_seed)
    solution.fuse_lora(unet, lora_adapters(unet, lora_seed, adapters), lora_scale)
    with torch.no_grad():
        return {"sample": unet(**unet_inputs(unet, data_seed)).sample}


# -- figures the grader records beside the candidate's ---------------------------------------------------------------
def library_errors(unet_seed, lora_seed, adapters, lora_scale, precision="float32") -> dict:
    """Largest error against the float64 truth of diffusers' fuse_lora and peft's merge_and_unload (fused weights)
    and of diffusers' unfuse_lora (restored weights)."""
    inputs = dict(unet_seed=unet_seed, lora_seed=lora_seed, adapters=adapters, lora_scale=lora_scale,
                  precision=precision)
    truth = fused_weights(ORACLE, **inputs, dtype=torch.float64)
    originals = base_weights(_unet(unet_seed, precision, torch.float64))

    def largest_error(weights, reference) -> float:
        return max(float((weights[name].double() - reference[name]).abs().max())
                   for name in weights if name.endswith(".weight"))

    return {"diffusers_fuse": largest_error(fused_weights(ORACLE, **inputs), truth),
            "peft_merge_and_unload": largest_error(fused_weights(PEFT_MERGE, **inputs), truth),
            "diffusers_unfuse": largest_error(restored_weights(ORACLE, **inputs), originals)}
