# Class 6, forged figures: in the measured call, leaves the in-worker memory meter (pops its TorchDispatchMode
# off the stack), uses 160 MiB of tensors where it cannot see them, and comes back. Contained: the memory test
# fails over memory (the trusted side measures too); the other tests pass.
import torch
from torch.utils._python_dispatch import _get_current_dispatch_mode, _pop_mode_temporarily

HIDDEN_BYTES = 160 * 1024**2


def scaled_sum(a, b, alpha):
    if _get_current_dispatch_mode() is not None:
        with _pop_mode_temporarily():
            workspace = torch.ones(HIDDEN_BYTES // 4)  # written: resident, not only reserved
            del workspace
    return a + alpha * b
