"""The trusted side's sandbox policy: what a worker's report must look like, and when grading refuses."""

import json

import pytest

from pytest_diffchallenge.faults import GraderError, SandboxIncomplete
from pytest_diffchallenge.sandboxing import (
    EMULATION_VARIABLE,
    SANDBOX_BEST_EFFORT,
    SANDBOX_OFF,
    SANDBOX_REQUIRED,
    checked_layers,
    require,
    summary,
    worker_request,
)

FULL = {"landlock-filesystem": "held (ABI 7)", "landlock-network": "held", "landlock-signals": "held",
        "seccomp": "held"}
OLD_KERNEL = {**FULL, "landlock-signals": "missing: the kernel's Landlock ABI is 4"}


@pytest.mark.parametrize("reported", [None, [], "held", {"seccomp": 1}, {1: "held"},
                                      {f"layer{i}": "held" for i in range(40)}])
def test_a_malformed_report_is_the_graders_error(reported):
    with pytest.raises(GraderError, match="malformed"):
        checked_layers(SANDBOX_REQUIRED, reported)


def test_long_texts_are_cut():
    layers = checked_layers(SANDBOX_BEST_EFFORT, {"seccomp": "missing: " + "x" * 5000})
    assert len(layers["seccomp"]) == 300


def test_off_needs_no_report():
    assert checked_layers(SANDBOX_OFF, None) == {"sandbox": "off: --no-sandbox"}


@pytest.mark.parametrize("layer", ["landlock-filesystem", "seccomp"])
def test_a_missing_required_layer_refuses_only_when_required(layer):
    layers = {**FULL, layer: "missing: not on this kernel"}
    with pytest.raises(SandboxIncomplete, match=f"{layer}: missing: not on this kernel.*--no-sandbox"):
        require(SANDBOX_REQUIRED, layers)
    require(SANDBOX_BEST_EFFORT, layers)
    require(SANDBOX_OFF, layers)


def test_an_unreported_required_layer_refuses():
    with pytest.raises(SandboxIncomplete, match="seccomp: not reported"):
        require(SANDBOX_REQUIRED, {"landlock-filesystem": "held (ABI 7)"})


def test_layers_that_seccomp_covers_are_not_required():
    require(SANDBOX_REQUIRED, OLD_KERNEL)


def test_summaries():
    assert summary({}) == "worker process"
    assert summary(FULL) == ("worker process, sandboxed: landlock-filesystem, landlock-network, landlock-signals, "
                             "seccomp")
    assert summary(OLD_KERNEL) == "worker process, sandbox without landlock-signals"
    assert summary({"sandbox": "off: --no-sandbox"}) == "worker process, no sandbox (--no-sandbox)"


def test_the_worker_request_and_its_emulation(monkeypatch):
    monkeypatch.delenv(EMULATION_VARIABLE, raising=False)
    assert json.loads(worker_request(SANDBOX_REQUIRED)) == {"enabled": True}
    assert json.loads(worker_request(SANDBOX_OFF)) == {"enabled": False}
    monkeypatch.setenv(EMULATION_VARIABLE, '{"landlock_abi_max": 4}')
    assert json.loads(worker_request(SANDBOX_BEST_EFFORT)) == {"enabled": True, "landlock_abi_max": 4}
