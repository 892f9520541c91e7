"""Public tests for safe-checkpoint-loading: run them with `diffchallenge test`."""

import os

import pytest
import torch

from pytest_diffchallenge import pickles


@pytest.mark.points(2)
@pytest.mark.covers("zip-format", "state-dict", "metadata", "forbidden")
def test_a_diffusers_state_dict(submission, probes):
    state = probes.unet_state(seed=0)
    where = probes.paths(submission.folder, "public-unet")
    checkpoint = pickles.as_tensor(pickles.checkpoint(state, "diffusion_pytorch_model"))
    probes.judge_converted(submission.call("convert", checkpoint=checkpoint, **where), state)


@pytest.mark.points(2)
@pytest.mark.covers("shared", "views")
def test_tied_weights_and_a_transposed_view(submission, probes):
    weight = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    state = {"embed.weight": weight, "lm_head.weight": weight, "lm_head.weight_t": weight.t()}
    where = probes.paths(submission.folder, "public-tied")
    probes.judge_converted(submission.call("convert", checkpoint=pickles.as_tensor(pickles.checkpoint(state)),
                                           **where), state)


@pytest.mark.points(2)
@pytest.mark.covers("allowlist", "payloads", "no-output")
def test_refuses_a_checkpoint_that_runs_code(submission, probes):
    canary = submission.folder / "public-canary"
    state = {"weight": torch.ones(2, 2), "config": pickles.Reduced(os.mkdir, str(canary))}
    where = probes.paths(submission.folder, "public-payload")
    reply = submission.call("convert", checkpoint=pickles.as_tensor(pickles.checkpoint(state)), **where)
    probes.judge_refused(reply, where, canary, "posix.mkdir")
