# Class 6, forged figures: takes a 160 MiB workspace at import, before anything is measured, and does its work in
# it through numpy views (no new tensor, no new Python allocation, no new resident page during the measured call).
# Contained: the memory test fails over memory (memory taken before the call counts too); the others pass.
import numpy as np
import torch

WORKSPACE = torch.ones(160 * 1024**2 // 4).numpy()  # written at import: resident from then on


def scaled_sum(a, b, alpha):
    n = a.numel()
    if n < 1000:
        return a + alpha * b
    rows = WORKSPACE[: (WORKSPACE.size // n) * n].reshape(-1, n)
    rows[:] = b.numpy().reshape(1, -1)  # the algorithm's big working set, where no meter looks
    np.multiply(rows, np.float32(alpha), out=rows)
    return torch.from_numpy(a.numpy().reshape(-1) + rows[-1]).reshape(a.shape)
