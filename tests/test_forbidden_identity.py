"""Forbidden APIs guarded by identity, not by name (``pytest_diffchallenge.worker.guards``), in a real worker.

The submission below reaches forbidden APIs by every route around a guard on their names: a "# Copied from" twin
in a loaded module or in one imported after the guards were set, the module reloaded or executed again from its
source (as a copy, or the library's file under another name), a function rebuilt from the code or from the
cached bytecode, the original code dug out from behind the guard, and SDPA through ``torch.ops.aten`` and
``torch._C``. Each must be refused as a forbidden API, while the library's own calls to the very same functions
(the probes') go through.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from pytest_diffchallenge.client import WorkerClient
from pytest_diffchallenge.faults import SubmissionRaised
from pytest_diffchallenge.verdict import Reason

SD = "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion"
FORBIDDEN = [f"{SD}.rescale_noise_cfg", "diffusers.StableDiffusionXLPipeline._get_add_time_ids",
             "torch.nn.functional.scaled_dot_product_attention"]

COMMON = '''
import importlib, sys, types
import torch

SD = "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion"
SDXL = "diffusers.pipelines.stable_diffusion_xl.pipeline_stable_diffusion_xl"
PAG = "diffusers.pipelines.pag.pipeline_pag_sd_xl"
CONTROLNET_SDXL = "diffusers.pipelines.controlnet.pipeline_controlnet_sd_xl"
# what _get_add_time_ids reads of its pipeline: 6 time ids of 8 features, and a text projection of 32
PIPELINE = types.SimpleNamespace(unet=types.SimpleNamespace(
    config=types.SimpleNamespace(addition_time_embed_dim=8),
    add_embedding=types.SimpleNamespace(linear_1=types.SimpleNamespace(in_features=80))))
TIME_IDS = ((64, 64), (0, 0), (64, 64), torch.float32, 32)


def guidance():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(2, 4, 8, 8, generator=generator), torch.randn(2, 4, 8, 8, generator=generator), 0.7


def attention():
    query = torch.randn(1, 2, 16, 8, generator=torch.Generator().manual_seed(0))
    return query, query, query
'''

SOLUTION = COMMON + '''
import gc, importlib.util, inspect, marshal, os

PACKAGE = SD.rpartition(".")[0]


def behind(start, depth=10):
    """What ``start`` refers to, and so on (code objects' constants included), but modules and their namespaces:
    where an attacker looks for the original behind a guard."""
    seen, frontier = {id(start)}, [start]
    for _ in range(depth):
        found = []
        for item in frontier:
            referents = gc.get_referents(item) + list(getattr(item, "co_consts", ()))
            for referent in referents:
                if id(referent) in seen or isinstance(referent, types.ModuleType) or (
                        isinstance(referent, dict) and "__builtins__" in referent):
                    continue
                seen.add(id(referent))
                found.append(referent)
        yield from found
        frontier = found


def original_code():
    guarded = importlib.import_module(SD).rescale_noise_cfg
    return next(c for c in behind(guarded) if isinstance(c, types.CodeType) and "noise_cfg" in c.co_varnames)


def a_twin_in_a_loaded_module():
    return importlib.import_module(SDXL).rescale_noise_cfg(*guidance())


def a_twin_in_a_module_imported_later():
    assert PAG not in sys.modules, f"{PAG} was imported before the guards were set: nothing to test"
    return importlib.import_module(PAG).StableDiffusionXLPAGPipeline._get_add_time_ids(PIPELINE, *TIME_IDS)


def the_module_reloaded():
    return importlib.reload(importlib.import_module(SD)).rescale_noise_cfg(*guidance())


def the_source_executed_again():
    namespace = {"__name__": "again"}
    exec(compile(open(inspect.getsourcefile(importlib.import_module(SD))).read(), "again.py", "exec"), namespace)
    return namespace["rescale_noise_cfg"](*guidance())


def a_copy_of_the_source_imported():
    copy = os.path.join(os.getcwd(), "sd_copy.py")
    with open(copy, "w") as handle:
        handle.write(open(inspect.getsourcefile(importlib.import_module(SD))).read())
    spec = importlib.util.spec_from_file_location(PACKAGE + ".sd_copy", copy)  # its relative imports work
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.rescale_noise_cfg(*guidance())


def the_library_file_under_another_name():
    spec = importlib.util.spec_from_file_location(PACKAGE + ".sd_again",
                                                  inspect.getsourcefile(importlib.import_module(SD)))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.rescale_noise_cfg(*guidance())


def a_function_rebuilt_from_the_code():
    original = importlib.import_module(SD).rescale_noise_cfg
    return types.FunctionType(original.__code__, original.__globals__)(*guidance())


def a_function_made_of_the_original_code():
    return types.FunctionType(original_code(), importlib.import_module(SD).__dict__)(*guidance())


def the_original_code_put_in_another_function():
    def rescale(noise_cfg, noise_pred_text, guidance_rescale=0.0):
        return noise_cfg
    rescale.__code__ = original_code()
    return rescale(*guidance())


def functions_of_the_original_code_behind_the_guard():
    guarded = importlib.import_module(SD).rescale_noise_cfg
    return sum(isinstance(f, types.FunctionType) and "noise_cfg" in f.__code__.co_varnames for f in behind(guarded))


def a_function_rebuilt_from_the_cached_bytecode():
    module = importlib.import_module(SD)
    with open(module.__cached__, "rb") as handle:
        code = marshal.loads(handle.read()[16:])
    rebuilt = next(c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == "rescale_noise_cfg")
    return types.FunctionType(rebuilt, module.__dict__)(*guidance())


def sdpa_through_torch_ops_aten():
    return torch.ops.aten.scaled_dot_product_attention(*attention())


def sdpa_through_its_cpu_kernel():
    return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(*attention())[0]


def sdpa_through_its_math_kernel():
    return torch.ops.aten._scaled_dot_product_attention_math(*attention())[0]


def sdpa_through_torch_c_nn():
    return torch._C._nn.scaled_dot_product_attention(*attention())


def attack(name):
    return globals()[name]()
'''

PROBES = COMMON + '''
import inspect


def attack(solution, name):
    return lambda: {"out": solution.attack(name)}


def legit(solution, name):
    calls = {
        "the named function": lambda: importlib.import_module(SD).rescale_noise_cfg(*guidance()),
        "a twin": lambda: importlib.import_module(SDXL).rescale_noise_cfg(*guidance()),
        "a twin imported later": lambda: importlib.import_module(CONTROLNET_SDXL).StableDiffusionXLControlNetPipeline.
        _get_add_time_ids(PIPELINE, *TIME_IDS),
        "sdpa": lambda: torch.nn.functional.scaled_dot_product_attention(*attention()),
        "sdpa through torch.ops.aten": lambda: torch.ops.aten.scaled_dot_product_attention(*attention()),
        "the signature": lambda: list(inspect.signature(importlib.import_module(SD).rescale_noise_cfg).parameters),
    }
    return lambda: {"out": calls[name]()}
'''

NAMED_SDPA = "torch.nn.functional.scaled_dot_product_attention is forbidden in this challenge"
ATTACKS = {  # what the refusal says
    "a_twin_in_a_loaded_module": "pipeline_stable_diffusion_xl.rescale_noise_cfg is forbidden in this challenge (the "
                                 f"same code as {SD}.rescale_noise_cfg)",
    "a_twin_in_a_module_imported_later": "StableDiffusionXLPAGPipeline._get_add_time_ids is forbidden in this "
                                         "challenge (the same code as diffusers.StableDiffusionXLPipeline.",
    "the_module_reloaded": "rescale_noise_cfg is forbidden in this challenge",
    "the_source_executed_again": "rescale_noise_cfg is forbidden in this challenge, and so is its code (compile)",
    "a_copy_of_the_source_imported": "rescale_noise_cfg is forbidden in this challenge, and so is its code (compile)",
    "the_library_file_under_another_name": "sd_again.rescale_noise_cfg is forbidden in this challenge",
    "a_function_rebuilt_from_the_code": "rescale_noise_cfg is forbidden in this challenge",
    "a_function_made_of_the_original_code": "rescale_noise_cfg is forbidden in this challenge, and so is its code "
                                            "(types.FunctionType)",
    "the_original_code_put_in_another_function": "rescale_noise_cfg is forbidden in this challenge, and so is its "
                                                 "code (__code__ =)",
    "a_function_rebuilt_from_the_cached_bytecode": "rescale_noise_cfg is forbidden in this challenge, and so is its "
                                                   "code (marshal.loads)",
    "sdpa_through_torch_ops_aten": NAMED_SDPA,
    "sdpa_through_its_cpu_kernel": NAMED_SDPA,
    "sdpa_through_its_math_kernel": NAMED_SDPA,
    "sdpa_through_torch_c_nn": NAMED_SDPA,  # not named in FORBIDDEN: the dispatcher refuses it
}


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    root = tmp_path_factory.mktemp("identity")
    submission = root / "submission"
    submission.mkdir()
    (submission / "solution.py").write_text(SOLUTION)
    (root / "probes.py").write_text(PROBES)
    client = WorkerClient(solution_dir=submission, probes=root / "probes.py", forbidden=FORBIDDEN, scratch=root)
    yield client
    client.stop()


@pytest.mark.parametrize("attack", ATTACKS)
def test_every_route_to_a_forbidden_api_is_refused(worker, attack):
    if attack == "a_function_rebuilt_from_the_cached_bytecode" and not Path(importlib.import_module(SD).__cached__
                                                                             ).is_file():
        pytest.skip("diffusers was installed without its bytecode cache")
    with pytest.raises(SubmissionRaised) as raised:
        worker.call("attack", name=attack)
    assert raised.value.reason is Reason.FORBIDDEN_API, str(raised.value)
    assert ATTACKS[attack] in str(raised.value)


def test_no_function_of_the_original_code_waits_behind_the_guard(worker):
    assert worker.call("attack", name="functions_of_the_original_code_behind_the_guard")["out"] == 0


@pytest.mark.parametrize("call", ["the named function", "a twin", "a twin imported later", "sdpa",
                                  "sdpa through torch.ops.aten", "the signature"])
def test_the_library_still_calls_what_the_candidate_may_not(worker, call):
    out = worker.call("legit", name=call)["out"]
    if call == "the signature":
        assert out == ["noise_cfg", "noise_pred_text", "guidance_rescale"]
    else:
        assert out.isfinite().all()
