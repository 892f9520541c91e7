"""The run's secret: it reaches the trusted session through a pipe, and hidden tests draw from it.

It never reaches a worker: workers get an environment built from scratch, the secret is not in the
session's environment or command line, and the session is made non-dumpable so that a worker running as
another, non-root user cannot read its memory.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import secrets
import sys

SECRET_FD_VARIABLE = "DIFFCHALLENGE_SECRET_FD"  # the number of the pipe's descriptor, not the secret
PR_SET_DUMPABLE = 4


def new_secret() -> str:
    return secrets.token_hex(16)


def read_secret() -> str:
    """This run's secret, from the pipe the grader passed (else a fresh one)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    descriptor = os.environ.pop(SECRET_FD_VARIABLE, None)
    if descriptor is None:
        return new_secret()
    with os.fdopen(int(descriptor), "rb") as pipe:
        return pipe.read().decode() or new_secret()


def hidden_seed(secret: str, nodeid: str) -> int:
    """A seed derived from the run's secret and a test's id: unpredictable to the candidate."""
    digest = hashlib.sha256(f"{secret}:{nodeid}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
