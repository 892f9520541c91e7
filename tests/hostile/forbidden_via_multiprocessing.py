# Class 2, a fresh interpreter: torch.add, forbidden here, called in a multiprocessing "spawn" child (a new Python,
# and a resource tracker process beside it), where the worker's guard does not exist. Contained: no process can be
# started; this scores zero, and nothing it started is left running.
import multiprocessing
import sys
import types

import torch


def add(a, b, alpha):
    return torch.add(torch.tensor(a), torch.tensor(b), alpha=alpha).tolist()


def scaled_sum(a, b, alpha):
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")  # spawn would otherwise start the worker's own main
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return torch.tensor(pool.apply(add, (a.tolist(), b.tolist(), alpha)))
    finally:
        sys.modules["__main__"] = main
