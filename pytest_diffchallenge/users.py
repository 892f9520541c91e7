"""Which user a worker runs as: the grader's own, or (in the grading container) one picked for it."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
WORKER_UID_VARIABLE = "DIFFCHALLENGE_WORKER_UID"  # set by the Docker runner: workers run as that user


def worker_user(label: str, workdir: Path) -> dict:
    """Popen arguments that start the worker as another user, when $DIFFCHALLENGE_WORKER_UID says so.

    In the grading container that user can neither write the results nor read the hidden tests. The
    grader holds its capabilities to switch user as ambient ones; clearing them keeps the worker from
    inheriting any across exec.
    """
    uid = os.environ.get(WORKER_UID_VARIABLE)
    if not uid:
        return {}
    ctypes.CDLL(None, use_errno=True).prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    workdir.chmod(0o755)  # the worker's user reads its copy; only the grader writes here
    return {"user": int(uid), "group": int(uid), "extra_groups": []}
