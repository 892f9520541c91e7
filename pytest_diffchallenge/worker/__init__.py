"""The worker: the only process in which candidate code runs (``python -I -m pytest_diffchallenge.worker``).

- ``__main__`` and ``start``: start-up: limits, capabilities dropped, then ``serve``;
- ``serve``: the request loop that imports the submission and runs the challenge's probes;
- ``guards``: forbidden APIs, guarded by what they are; ``identity``: when two functions are the same code;
- ``confinement``: resource limits and the capabilities a worker gives up;
- ``sandbox``: the kernel's sandbox (Landlock, seccomp), applied before any candidate code runs;
- ``memory``: peak tensor memory;
- ``template``: the worker template that batches fork workers from (pre-imported, never held a secret).

The worker may import only the modules in ``ALLOWED_IMPORTS`` from this kit: it never sees the trusted
side's session, clients, secret or verdict code, and a test checks that it does not.
"""

ALLOWED_IMPORTS = (
    "pytest_diffchallenge.worker",
    "pytest_diffchallenge.wire",
    "pytest_diffchallenge.recipes",
    "pytest_diffchallenge.pickles",  # the security challenges' checkpoints and payloads: bytes, no secret
    # imported by probes that check replies on the trusted side (lora-cross-attention)
    "pytest_diffchallenge.compare",
    "pytest_diffchallenge.artifacts",  # compare records what it compares; a no-op outside the trusted session
    "pytest_diffchallenge.figures",
    "pytest_diffchallenge.faults",
    "pytest_diffchallenge.verdict",
)
