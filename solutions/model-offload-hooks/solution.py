"""Reference solution for model-offload-hooks: whole-model CPU offload, as accelerate's cpu_offload_with_hook and
diffusers' enable_model_cpu_offload do it. A component moves to the execution device when it is called, and back
to the CPU when the next component of the chain is called, or when its hook's offload() is."""

OFFLOAD_DEVICE = "cpu"


class OffloadHook:
    def __init__(self, module, execution_device, prev_hook):
        self.module = module
        self.execution_device = execution_device
        self.prev_hook = prev_hook
        # A pre-hook, so the module is on the execution device before its forward runs.
        module.register_forward_pre_hook(self.onload)

    def onload(self, module, args):
        # The previous component leaves first, so the two are never on the execution device together.
        if self.prev_hook is not None:
            self.prev_hook.offload()
        module.to(self.execution_device)

    def offload(self):
        self.module.to(OFFLOAD_DEVICE)


def offload_with_hook(module, execution_device, prev_hook=None):
    hook = OffloadHook(module, execution_device, prev_hook)
    hook.offload()
    return module, hook


def enable_model_offload(pipeline, execution_device):
    hooks = []
    prev_hook = None
    for name in pipeline.model_cpu_offload_seq.split("->"):
        component = getattr(pipeline, name, None)
        if component is None:
            continue
        _, prev_hook = offload_with_hook(component, execution_device, prev_hook)
        hooks.append(prev_hook)
    return hooks
