import torch


def scaled_sum(a, b, alpha):
    return torch.add(a, b, alpha=alpha)
