"""Reference solution for sequential-offload: submodule-level CPU offload, as accelerate's cpu_offload (with
AlignDevicesHook(offload=True)) and diffusers' enable_sequential_cpu_offload do it. Every leaf waits on the CPU,
moves to the execution device just before its own forward and back just after it."""

from itertools import chain

OFFLOAD_DEVICE = "cpu"


def is_leaf(module):
    # With no children, every parameter and buffer it has is its own.
    return next(module.children(), None) is None and any(True for _ in chain(module.parameters(), module.buffers()))


def sequential_offload(module, execution_device):
    def onload(leaf, args):
        leaf.to(execution_device)

    def offload(leaf, args, output):
        # Back at once, so the next leaf finds the execution device holding no other weights.
        leaf.to(OFFLOAD_DEVICE)

    for leaf in module.modules():
        if is_leaf(leaf):
            leaf.to(OFFLOAD_DEVICE)
            leaf.register_forward_pre_hook(onload)
            leaf.register_forward_hook(offload)
    return module
