"""sequential-offload: submodule-level CPU offload, by hand. See README.md."""


def sequential_offload(module, execution_device):
    raise NotImplementedError("sequential_offload is not implemented yet: move every leaf of module (tensors of "
                              "its own, no children) to \"cpu\", then to execution_device just before its forward "
                              "and back to \"cpu\" just after it, and return module (see README.md)")
