# Class 2, a fresh interpreter: torch.add, forbidden here, called from a new Python started through os.system (a
# shell), where the worker's guard does not exist. Contained: nothing can be started; this scores zero.
import os
import shlex
import sys

import torch

CHILD = "import sys, torch; a, b, k = torch.load(sys.argv[1]); torch.save(torch.add(a, b, alpha=k), sys.argv[2])"


def scaled_sum(a, b, alpha):
    inputs, output = os.path.abspath("inputs.pt"), os.path.abspath("output.pt")
    torch.save((a, b, alpha), inputs)
    status = os.system(shlex.join([sys.executable, "-I", "-c", CHILD, inputs, output]))
    if status != 0:
        raise RuntimeError(f"os.system failed: {status}")
    return torch.load(output)
