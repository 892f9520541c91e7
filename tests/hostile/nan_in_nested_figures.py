# Class 9, garbage data: its reply carries, beside the right answer, nested NaN, infinities, a 400-digit integer
# and non-finite tensors (through Worker.run, so in every reply). Contained: what the tests do not read is ignored
# and nothing of it reaches a figure or a report: full marks, and every report is valid (strict) JSON.
import torch

from pytest_diffchallenge.worker import serve

run = serve.Worker.run
JUNK = {"nested": [float("nan"), {"inf": float("inf"), "-inf": float("-inf"), "big": 10**400}],
        "figures": {"peak_tensor_memory_bytes": float("nan"), "max_abs_error": [float("inf")]}}


def forged_run(self, request):
    reply = run(self, request)
    if isinstance(reply.get("result"), dict):
        reply["result"] = {**reply["result"], **JUNK, "tensor": torch.tensor([float("nan"), float("inf")])}
    reply["figures"] = JUNK
    return reply


serve.Worker.run = forged_run


def scaled_sum(a, b, alpha):
    return a + alpha * b
