"""Hidden tests for safe-checkpoint-loading: tensors, names and canaries come from the run's secret seed; which
payloads, dtypes and layouts each test uses never depends on it."""

import io
import os
import pickle

import pytest
import torch

from pytest_diffchallenge import pickles
from pytest_diffchallenge.recipes import seeded_randn


def _convert(submission, probes, state, tag, archive="archive", **options):
    where = probes.paths(submission.folder, tag)
    checkpoint = pickles.as_tensor(pickles.checkpoint(state, archive))
    return submission.call("convert", checkpoint=checkpoint, **where, **options)


def _refuses(submission, probes, hidden_seed, tag, make_payload, refused_global):
    """``make_payload(canary)`` is a data.pkl that would create the canary if anything executed it."""
    canary = submission.folder / f"canary-{tag}-{hidden_seed % 10007}"
    where = probes.paths(submission.folder, tag)
    checkpoint = probes.malicious(make_payload(str(canary)), hidden_seed)
    probes.judge_refused(submission.call("convert", checkpoint=checkpoint, **where), where, canary, refused_global)


@pytest.mark.points(2)
@pytest.mark.covers("zip-format", "state-dict", "dtypes")
def test_half_precision_diffusers_state_dicts(submission, probes, hidden_seed):
    for dtype in (torch.float16, torch.bfloat16):
        state = probes.unet_state(hidden_seed % 1000, dtype)
        probes.judge_converted(_convert(submission, probes, state, f"unet-{dtype}", f"unet_{hidden_seed % 97}"),
                               state)


@pytest.mark.points(2)
@pytest.mark.covers("dtypes", "state-dict", "forbidden")
def test_every_dtype(submission, probes, hidden_seed):
    state = probes.dtypes_state(hidden_seed)
    probes.judge_converted(_convert(submission, probes, state, "dtypes"), state)


@pytest.mark.points(2)
@pytest.mark.covers("views", "shared")
def test_views_of_one_storage(submission, probes, hidden_seed):
    base = seeded_randn((6, 8), hidden_seed)
    flat = seeded_randn((20,), hidden_seed + 1, dtype=torch.float64)
    state = {"base": base, "transposed": base.t(), "rows": base[2:5], "columns": base[:, 3:7],
             "strided": flat[1:17:3], "tail": flat[11:], "tied.a": flat, "tied.b": flat}
    probes.judge_converted(_convert(submission, probes, state, "views"), state)


@pytest.mark.points(1)
@pytest.mark.covers("state-dict")
def test_parameters(submission, probes, hidden_seed):
    layer = torch.nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight.copy_(seeded_randn((3, 4), hidden_seed))
    state = {"weight": layer.weight, "bias": layer.bias}
    reply = _convert(submission, probes, state, "parameters")
    probes.judge_converted(reply, {name: value.detach() for name, value in state.items()})


@pytest.mark.points(1)
@pytest.mark.covers("metadata")
def test_metadata(submission, probes, hidden_seed):
    state = {"weight": seeded_randn((2, 3), hidden_seed)}
    metadata = {"source": f"model-{hidden_seed % 1000}.bin", "converted_by": "diffchallenge"}
    probes.judge_converted(_convert(submission, probes, state, "metadata", metadata=metadata), state, metadata)


@pytest.mark.points(1)
@pytest.mark.covers("payloads", "allowlist", "no-output")
@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_every_protocol(submission, probes, hidden_seed, protocol):
    _refuses(submission, probes, hidden_seed, f"protocol-{protocol}", lambda canary: pickles.plain(canary, protocol),
             "os.mkdir")


@pytest.mark.points(1)
@pytest.mark.covers("payloads", "allowlist")
@pytest.mark.parametrize("opcode", ["INST", "OBJ"])
def test_calls_through_inst_and_obj(submission, probes, hidden_seed, opcode):
    make, refused = {"INST": (pickles.instantiated, "os.mkdir"), "OBJ": (pickles.as_object, "posix.mkdir")}[opcode]
    _refuses(submission, probes, hidden_seed, opcode, make, refused)


INNOCUOUS = {  # what the pickle names -> the global the reason must name
    "io.open": lambda canary: pickles.plain(canary, 4, "io.open"),
    "codecs.open": lambda canary: pickles.plain(canary, 3, "codecs.open"),
    "builtins.exec": lambda canary: pickles.plain(canary, 2, "builtins.exec"),
    "torch.serialization.os.mkdir": lambda canary: pickles.through_attribute(canary, "torch.serialization", "os.mkdir"),
}


@pytest.mark.points(1)
@pytest.mark.covers("payloads", "allowlist")
@pytest.mark.parametrize("refused_global", sorted(INNOCUOUS))
def test_innocuous_looking_modules(submission, probes, hidden_seed, refused_global):
    _refuses(submission, probes, hidden_seed, refused_global, INNOCUOUS[refused_global], refused_global)


@pytest.mark.points(1)
@pytest.mark.covers("payloads", "allowlist")
def test_a_dotted_name_under_torch(submission, probes, hidden_seed):
    """STACK_GLOBAL("torch", "serialization.os.mkdir"): a loader that trusts every torch.* global runs it."""
    _refuses(submission, probes, hidden_seed, "torch-dotted",
             lambda canary: pickles.through_attribute(canary, "torch", "serialization.os.mkdir", 5),
             "torch.serialization.os.mkdir")


@pytest.mark.points(1)
@pytest.mark.covers("payloads", "allowlist")
@pytest.mark.parametrize("make", [pickles.memo_names, pickles.overwritten_memo], ids=["memo", "overwritten-memo"])
def test_names_from_the_memo(submission, probes, hidden_seed, make):
    _refuses(submission, probes, hidden_seed, make.__name__, make, "posix.mkdir")


@pytest.mark.points(1)
@pytest.mark.covers("payloads", "allowlist")
@pytest.mark.parametrize("loader", ["pickle.loads", "_pickle.loads"])
def test_nested_pickles(submission, probes, hidden_seed, loader):
    _refuses(submission, probes, hidden_seed, loader, lambda canary: pickles.nested(canary, loader), loader)


@pytest.mark.points(1)
@pytest.mark.covers("payloads", "allowlist")
def test_a_method_through_a_dotted_name(submission, probes, hidden_seed):
    _refuses(submission, probes, hidden_seed, "interpreter", pickles.interpreter, "code.InteractiveInterpreter")


@pytest.mark.points(1)
@pytest.mark.covers("payloads", "allowlist", "no-output")
def test_a_reduce_payload_among_real_tensors(submission, probes, hidden_seed):
    canary = submission.folder / f"canary-reduce-{hidden_seed % 10007}"
    state = {**probes.dtypes_state(hidden_seed), "optimizer": pickles.Reduced(os.mkdir, str(canary))}
    where = probes.paths(submission.folder, "reduce")
    reply = submission.call("convert", checkpoint=pickles.as_tensor(pickles.checkpoint(state)), **where)
    probes.judge_refused(reply, where, canary, "posix.mkdir")


@pytest.mark.points(1)
@pytest.mark.covers("legacy", "no-output")
@pytest.mark.parametrize("form", ["legacy", "bare-pickle", "zip-without-data-pkl"])
def test_files_that_are_not_zip_checkpoints(submission, probes, hidden_seed, form):
    state = {"weight": seeded_randn((2, 2), hidden_seed)}
    buffer = io.BytesIO()
    if form == "legacy":
        torch.save(state, buffer, _use_new_zipfile_serialization=False)
    elif form == "bare-pickle":
        buffer.write(pickles.stream(pickles.text("not a checkpoint", 4), 4))
    else:
        archive = pickles.members(pickles.checkpoint(state))
        buffer.write(pickles.zipped({name: data for name, data in archive.items() if not name.endswith("data.pkl")}))
    where = probes.paths(submission.folder, form)
    reply = submission.call("convert", checkpoint=pickles.as_tensor(buffer.getvalue()), **where)
    if not reply["refused"] or os.path.lexists(where["target"]):
        raise AssertionError(f"a {form} file must raise UnsafeCheckpointError and leave no output")


LOOK_ALIKES = [  # globals next to the safe ones, in name or in module: each must be refused all the same
    "builtins.OrderedDict", "os.OrderedDict", "collections.Counter", "collections.UserDict",
    "builtins._rebuild_tensor_v2", "torch.utils._rebuild_tensor_v2", "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_wrapper_subclass", "builtins._rebuild_parameter", "torch.utils._rebuild_parameter",
    "torch._utils._rebuild_device_tensor_from_numpy", "os.FloatStorage", "typing.FloatStorage",
]


@pytest.mark.points(2)
@pytest.mark.covers("allowlist", "no-output")
def test_globals_that_look_like_safe_ones(submission, probes, hidden_seed):
    for dotted in LOOK_ALIKES:
        module, name = dotted.rsplit(".", 1)
        data_pickle = pickles.stream(pickles.global_(module, name, 2) + pickle.EMPTY_TUPLE + pickle.REDUCE, 2)
        _refuses(submission, probes, hidden_seed, f"look-alike-{dotted}", lambda canary, data=data_pickle: data, dotted)


@pytest.mark.points(1)
@pytest.mark.covers("persistent-ids", "no-output")
@pytest.mark.parametrize("kind", ["modules", "zzzzzzz"])
def test_persistent_ids_that_are_not_storages(submission, probes, hidden_seed, kind):
    """torch's data.pkl names each storage ("storage", class, key, location, numel): any other kind is refused."""
    checkpoint = pickles.members(pickles.checkpoint({"weight": seeded_randn((2, 2), hidden_seed)}))
    data_pickle = next(data for name, data in checkpoint.items() if name.endswith("/data.pkl"))
    forged = pickles.with_data_pickle(pickles.zipped(checkpoint), data_pickle.replace(b"storage", kind.encode()))
    where = probes.paths(submission.folder, f"persistent-{kind}")
    reply = submission.call("convert", checkpoint=pickles.as_tensor(forged), **where)
    if not reply["refused"] or os.path.lexists(where["target"]):
        raise AssertionError(f"a persistent id of kind {kind!r} must raise UnsafeCheckpointError and leave no output")
