from types import SimpleNamespace

import torch

ORACLE = SimpleNamespace(scaled_sum=lambda a, b, alpha: a + alpha * b)


def scaled_sum(solution, a, b, alpha):
    return {"out": solution.scaled_sum(a, b, alpha)}


def big_sum(solution, size, alpha):
    a, b = torch.ones(size), torch.full((size,), 2.0)
    return lambda: {"total": solution.scaled_sum(a, b, alpha).sum()}
