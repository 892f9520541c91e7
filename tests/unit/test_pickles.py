"""The security challenges' payloads (``pickles``) are real: unpickling each one creates its canary."""

import io
import os
import pickle
import zipfile

import pytest
import torch

from pytest_diffchallenge import pickles

PAYLOADS = {
    **{f"protocol-{protocol}": lambda canary, protocol=protocol: pickles.plain(canary, protocol)
       for protocol in range(6)},
    **{dotted: lambda canary, dotted=dotted: pickles.plain(canary, 4, dotted)
       for dotted in ("posix.mkdir", "builtins.open", "io.open", "codecs.open", "builtins.exec", "builtins.eval")},
    "under-torch-serialization": lambda canary: pickles.through_attribute(canary, "torch.serialization", "os.mkdir"),
    "dotted-under-torch": lambda canary: pickles.through_attribute(canary, "torch", "serialization.os.mkdir", 5),
    "inst": pickles.instantiated,
    "obj": pickles.as_object,
    "memo": pickles.memo_names,
    "overwritten-memo": pickles.overwritten_memo,
    "computed-module": pickles.computed_module,
    "through-the-stack": pickles.through_the_stack,
    "nested-pickle": pickles.nested,
    "nested-_pickle": lambda canary: pickles.nested(canary, "_pickle.loads", 5),
    "interpreter": pickles.interpreter,
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_unpickling_a_payload_creates_its_canary(tmp_path, name):
    canary = tmp_path / "canary"
    pickle.loads(PAYLOADS[name](str(canary)))
    assert canary.exists()


def test_the_payload_after_a_harmless_pickle_runs_when_the_second_pickle_is_loaded(tmp_path):
    stream = io.BytesIO(pickles.after_a_harmless_pickle(pickles.plain(str(tmp_path / "canary"), 2)))
    assert pickle.load(stream) == pickles.TORCH_MAGIC_NUMBER and not (tmp_path / "canary").exists()
    pickle.load(stream)
    assert (tmp_path / "canary").exists()


def test_a_broken_off_payload_runs_before_unpickling_fails(tmp_path):
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(pickles.broken_off(str(tmp_path / "canary")))
    assert (tmp_path / "canary").exists()


def test_a_reduce_payload_survives_torch_save_and_runs_on_a_full_load(tmp_path):
    data = pickles.checkpoint({"weight": torch.ones(2), "config": pickles.Reduced(os.mkdir, str(tmp_path / "c"))},
                              "model")
    assert all(name.startswith("model/") for name in zipfile.ZipFile(io.BytesIO(data)).namelist())
    torch.load(io.BytesIO(data), weights_only=False)
    assert (tmp_path / "c").exists()


def test_a_replaced_data_pickle_keeps_the_storages():
    original = pickles.members(pickles.checkpoint({"weight": torch.ones(2)}))
    replaced = pickles.members(pickles.with_data_pickle(pickles.zipped(original), b"payload"))
    assert {name for name, data in replaced.items() if data != original[name]} == {"archive/data.pkl"}
