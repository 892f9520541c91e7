"""Hidden tests for pickle-scanner: canaries and tensors come from the run's secret seed; which payloads and which
benign files each test scans never depends on it."""

import pickle

import pytest
import torch

from pytest_diffchallenge import figures, pickles
from pytest_diffchallenge.recipes import seeded_randn


def _small_checkpoint(seed: int, **extra) -> bytes:
    return pickles.checkpoint({"weight": seeded_randn((2, 3), seed), **extra})


def _views_and_tied(seed: int) -> bytes:
    base = seeded_randn((4, 6), seed)
    return pickles.checkpoint({"base": base, "transposed": base.t(), "rows": base[1:3], "tied": base,
                               "parameter": torch.nn.Parameter(seeded_randn((3,), seed + 1))})


def _every_dtype(seed: int) -> bytes:
    dtypes = (torch.float64, torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)
    return pickles.checkpoint({str(dtype): (seeded_randn((3,), seed + index) * 9).to(dtype)
                               for index, dtype in enumerate(dtypes)})


# Bytes constants that read as pickle opcodes but do not start with PROTO: data, not nested pickles.
NOT_PICKLES = {"text": b"cos\nsystem\n.", "framed": b"\x95\x0c\x00\x00\x00\x00\x00\x00\x00cos\nsystem\n."}

BENIGN = {  # name: make(probes, seed) -> bytes; every one must scan as []
    "unet-fp16": lambda probes, seed: probes.unet_checkpoint(seed % 1000, torch.float16),
    "unet-bf16": lambda probes, seed: probes.unet_checkpoint(seed % 1000, torch.bfloat16),
    "views-tied-parameters": lambda probes, seed: _views_and_tied(seed),
    "every-dtype": lambda probes, seed: _every_dtype(seed),
    "training-state": lambda probes, seed: pickle.dumps(
        {"step": seed % 1000, "lr": 1e-4, "betas": (0.9, 0.999), **NOT_PICKLES}, protocol=4),
    "two-pickles": lambda probes, seed: pickles.after_a_harmless_pickle(pickle.dumps([seed % 97, "v1"], protocol=2)),
}

MALICIOUS = {  # name: (make(canary) -> bytes, findings)
    **{f"protocol-{protocol}": (lambda canary, protocol=protocol: pickles.plain(canary, protocol), ["os.mkdir"])
       for protocol in range(6)},
    "inst": (pickles.instantiated, ["os.mkdir"]),
    "obj": (pickles.as_object, ["posix.mkdir"]),
    "io-open": (lambda canary: pickles.plain(canary, 4, "io.open"), ["io.open"]),
    "codecs-open": (lambda canary: pickles.plain(canary, 3, "codecs.open"), ["codecs.open"]),
    "builtins-exec": (lambda canary: pickles.plain(canary, 2, "builtins.exec"), ["builtins.exec"]),
    "under-torch-serialization": (lambda canary: pickles.through_attribute(canary, "torch.serialization", "os.mkdir"),
                                  ["torch.serialization.os.mkdir"]),
    "dotted-under-torch": (lambda canary: pickles.through_attribute(canary, "torch", "serialization.os.mkdir", 5),
                           ["torch.serialization.os.mkdir"]),
    "interpreter": (pickles.interpreter, ["code.InteractiveInterpreter", "code.InteractiveInterpreter.runsource"]),
    "memo": (pickles.memo_names, ["posix.mkdir"]),
    "overwritten-memo": (pickles.overwritten_memo, ["posix.mkdir"]),
    "computed-module": (pickles.computed_module, ["?.mkdir", "builtins.str"]),
    "through-the-stack": (pickles.through_the_stack, ["posix.mkdir", "posix.rmdir"]),
    "broken-off": (pickles.broken_off, ["posix.mkdir"]),
    "nested-pickle": (pickles.nested, ["pickle.loads", "posix.mkdir"]),
    "nested-_pickle": (lambda canary: pickles.nested(canary, "_pickle.loads", 5), ["_pickle.loads", "posix.mkdir"]),
    "second-pickle": (lambda canary: pickles.after_a_harmless_pickle(pickles.plain(canary, 2, "posix.mkdir")),
                      ["posix.mkdir"]),
    "zip-data-pkl": (lambda canary: pickles.with_data_pickle(_small_checkpoint(0), pickles.plain(canary, 2)),
                     ["os.mkdir"]),
    "zip-other-member": (lambda canary: pickles.zipped({**pickles.members(_small_checkpoint(0)),
                                                         "archive/extra.pkl": pickles.plain(canary, 4, "posix.mkdir")}),
                         ["posix.mkdir"]),
}


def _malicious(submission, probes, hidden_seed, name):
    make, expected = MALICIOUS[name]
    canary = submission.folder / f"canary-{name}-{hidden_seed % 10007}"
    return probes.judge(submission, name, make(str(canary)), expected, canary)


@pytest.mark.points(1)
@pytest.mark.covers("safe-globals", "zip-checkpoints", "raw-pickles", "nested", "forbidden")
@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_files(submission, probes, hidden_seed, name):
    probes.judge(submission, name, BENIGN[name](probes, hidden_seed), [])


@pytest.mark.points(1)
@pytest.mark.covers("raw-pickles", "findings", "no-execution")
@pytest.mark.parametrize("protocol", range(6))
def test_every_protocol(submission, probes, hidden_seed, protocol):
    _malicious(submission, probes, hidden_seed, f"protocol-{protocol}")


@pytest.mark.points(1)
@pytest.mark.covers("findings", "no-execution")
@pytest.mark.parametrize("name", ["inst", "obj"])
def test_calls_through_inst_and_obj(submission, probes, hidden_seed, name):
    _malicious(submission, probes, hidden_seed, name)


@pytest.mark.points(1)
@pytest.mark.covers("findings", "no-execution")
@pytest.mark.parametrize("name", ["io-open", "codecs-open", "builtins-exec", "under-torch-serialization",
                                  "dotted-under-torch", "interpreter"])
def test_innocuous_looking_modules(submission, probes, hidden_seed, name):
    _malicious(submission, probes, hidden_seed, name)


@pytest.mark.points(1)
@pytest.mark.covers("stack", "findings", "no-execution")
@pytest.mark.parametrize("name", ["memo", "overwritten-memo"])
def test_names_from_the_memo(submission, probes, hidden_seed, name):
    _malicious(submission, probes, hidden_seed, name)


@pytest.mark.points(2)
@pytest.mark.covers("stack", "findings", "no-execution")
def test_names_moved_about_the_stack(submission, probes, hidden_seed):
    _malicious(submission, probes, hidden_seed, "through-the-stack")


@pytest.mark.points(1)
@pytest.mark.covers("broken", "raw-pickles", "no-execution")
def test_a_pickle_that_breaks_off_after_its_payload(submission, probes, hidden_seed):
    _malicious(submission, probes, hidden_seed, "broken-off")


@pytest.mark.points(1)
@pytest.mark.covers("unknown-names", "no-execution")
def test_a_computed_module_name(submission, probes, hidden_seed):
    _malicious(submission, probes, hidden_seed, "computed-module")


@pytest.mark.points(1)
@pytest.mark.covers("nested", "no-execution")
@pytest.mark.parametrize("name", ["nested-pickle", "nested-_pickle"])
def test_nested_pickles(submission, probes, hidden_seed, name):
    _malicious(submission, probes, hidden_seed, name)


@pytest.mark.points(1)
@pytest.mark.covers("raw-pickles", "no-execution")
def test_a_payload_in_the_second_pickle(submission, probes, hidden_seed):
    _malicious(submission, probes, hidden_seed, "second-pickle")


@pytest.mark.points(1)
@pytest.mark.covers("zip-checkpoints", "no-execution")
@pytest.mark.parametrize("name", ["zip-data-pkl", "zip-other-member"])
def test_payloads_in_zip_members(submission, probes, hidden_seed, name):
    _malicious(submission, probes, hidden_seed, name)


@pytest.mark.points(3)
@pytest.mark.covers("beats-picklescan")
def test_precision_and_recall_beside_picklescan(submission, probes, hidden_seed):
    """The whole corpus, scanned by your scanner and by picklescan: a file counts as flagged when it has a finding."""
    corpus = {name: (make(probes, hidden_seed), False) for name, make in BENIGN.items()}
    corpus |= {name: (make(str(submission.folder / f"canary-all-{name}-{hidden_seed % 10007}")), True)
               for name, (make, _) in MALICIOUS.items()}
    yours = {name: bool(probes.findings_of(submission, data, submission.folder / f"all-{name}.scanned"))
             for name, (data, _) in corpus.items()}
    theirs = {name: probes.picklescan_flags(name, data) for name, (data, _) in corpus.items()}
    scores = {who: probes.precision_and_recall(flags, {name: bad for name, (_, bad) in corpus.items()})
              for who, flags in (("candidate", yours), ("picklescan", theirs))}
    for who, (precision, recall) in scores.items():
        figures.record(f"{who}_precision", precision)
        figures.record(f"{who}_recall", recall)
    (precision, recall), (their_precision, their_recall) = scores["candidate"], scores["picklescan"]
    assert precision >= their_precision and recall >= their_recall, (
        f"precision {precision:.2f} and recall {recall:.2f}, where picklescan has {their_precision:.2f} and "
        f"{their_recall:.2f}")
