"""pytest plugin of diffchallenge: what runs inside pytest when a submission is graded.

- ``plugin``: markers, options, fixtures and the hooks that turn test outcomes into a result.
- ``worker_client``: the trusted side of the worker that runs candidate code.
- ``worker_process``: that worker; the only place candidate code runs.
- ``wire``: the data-only format between the two (JSON and safetensors).
- ``compare``, ``memory``, ``figures``: numerical checks and measurements for test authors.
- ``recipes``: tiny models built from configs, identical on both sides of the boundary.
"""
