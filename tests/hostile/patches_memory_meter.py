# Class 6, forged figures: monkeypatches the worker's memory meter (pytest_diffchallenge.worker.memory) so that
# every measured peak reads 1 KiB, then uses 160 MiB of tensors in every call. Contained: the memory test fails
# over memory (the trusted side measures too); the other tests pass.
import torch

import pytest_diffchallenge.worker.memory as meter

HIDDEN_BYTES = 160 * 1024**2
measured_exit = meter.measure_peak.__exit__


def forged_exit(self, *exc):
    result = measured_exit(self, *exc)
    self.peak_bytes = min(self.peak_bytes, 1024)
    return result


meter.measure_peak.__exit__ = forged_exit


def scaled_sum(a, b, alpha):
    workspace = torch.ones(HIDDEN_BYTES // 4)
    del workspace
    return a + alpha * b
