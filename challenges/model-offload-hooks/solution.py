"""model-offload-hooks: whole-model CPU offload hooks, by hand. See README.md."""


def offload_with_hook(module, execution_device, prev_hook=None):
    raise NotImplementedError("offload_with_hook is not implemented yet: offload the module to \"cpu\" and return "
                              "(module, hook), the module moving to execution_device when called and "
                              "hook.offload() moving it back (see README.md)")


def enable_model_offload(pipeline, execution_device):
    raise NotImplementedError("enable_model_offload is not implemented yet: chain offload_with_hook over the "
                              "components named in pipeline.model_cpu_offload_seq and return their hooks "
                              "(see README.md)")
