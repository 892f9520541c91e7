# Class 6, forged figures: computes in numpy through a 160 MiB intermediate matrix (like an attention score
# matrix), memory that no tensor storage holds. Contained: the memory test fails over memory; the others pass.
import numpy as np
import torch

HIDDEN_BYTES = 160 * 1024**2


def scaled_sum(a, b, alpha):
    if a.numel() < 1000:
        return a + alpha * b
    rows = max(1, HIDDEN_BYTES // (4 * a.numel()))
    scores = np.tile(b.numpy().reshape(1, -1), (rows, 1)) * np.float32(alpha)  # rows x n, written
    return torch.from_numpy(a.numpy().reshape(-1) + scores[-1]).reshape(a.shape)
