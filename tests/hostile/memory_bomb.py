import torch


def scaled_sum(a, b, alpha):
    return torch.empty(100 * 1024**3, dtype=torch.uint8)  # 100 GiB
