# Class 6, forged figures: monkeypatches the worker's reply (pytest_diffchallenge.worker.serve.Worker.run) so
# that every measured peak reads 1 KiB, then uses 160 MiB of tensors in every call. Contained: the memory test
# fails over memory (the trusted side measures too); the other tests pass.
import torch

from pytest_diffchallenge.worker import serve

HIDDEN_BYTES = 160 * 1024**2
run = serve.Worker.run


def forged_run(self, request):
    reply = run(self, request)
    if "peak_bytes" in reply:
        reply["peak_bytes"] = 1024
    return reply


serve.Worker.run = forged_run


def scaled_sum(a, b, alpha):
    workspace = torch.ones(HIDDEN_BYTES // 4)
    del workspace
    return a + alpha * b
