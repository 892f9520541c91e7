"""Public tests for pickle-scanner: run them with `diffchallenge test`."""

import os

import pytest
import torch

from pytest_diffchallenge import pickles


@pytest.mark.points(2)
@pytest.mark.covers("zip-checkpoints", "safe-globals", "forbidden")
def test_a_diffusers_state_dict_is_safe(submission, probes):
    probes.judge(submission, "public-unet", probes.unet_checkpoint(seed=0), [])


@pytest.mark.points(2)
@pytest.mark.covers("raw-pickles", "findings", "no-execution")
def test_a_raw_pickle_that_calls_os_mkdir(submission, probes):
    canary = submission.folder / "public-canary-raw"
    probes.judge(submission, "public-raw", pickles.plain(str(canary), 2), ["os.mkdir"], canary)


@pytest.mark.points(2)
@pytest.mark.covers("zip-checkpoints", "findings", "no-execution")
def test_a_reduce_payload_in_a_checkpoint(submission, probes):
    canary = submission.folder / "public-canary-zip"
    data = pickles.checkpoint({"weight": torch.ones(2, 2), "config": pickles.Reduced(os.mkdir, str(canary))})
    probes.judge(submission, "public-zip", data, ["posix.mkdir"], canary)
