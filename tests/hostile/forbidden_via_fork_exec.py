# Class 2, a fresh interpreter: torch.add, forbidden here, called from a new Python started by os.fork and
# os.execv, where the worker's guard does not exist. Contained: nothing can be started; this scores zero.
import os
import sys

import torch

CHILD = "import sys, torch; a, b, k = torch.load(sys.argv[1]); torch.save(torch.add(a, b, alpha=k), sys.argv[2])"


def scaled_sum(a, b, alpha):
    inputs, output = os.path.abspath("inputs.pt"), os.path.abspath("output.pt")
    torch.save((a, b, alpha), inputs)
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(sys.executable, [sys.executable, "-I", "-c", CHILD, inputs, output])
        finally:
            os._exit(127)
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
        raise RuntimeError("the new interpreter failed")
    return torch.load(output)
