"""Which user a worker runs as: the grader's own, or (in the grading container) one picked for its role.

In the grading container each role has its own uid, so the candidate's worker can neither read the reference
solution's copy nor signal or trace the reference worker while it is timed. A worker's folder belongs to the
grader and to the worker's group alone: the worker reads its copy and writes its own temporary files there,
and no other worker can even look in.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
# Set by the Docker runner, one distinct random uid per role; absent elsewhere: workers run as the grader.
UID_VARIABLES = {"submission": "DIFFCHALLENGE_SUBMISSION_UID",
                 "reference solution": "DIFFCHALLENGE_REFERENCE_UID"}
# Sticky and group-writable: the worker adds its own files (HOME and TMPDIR point here) but cannot rename
# or replace the grader's (worker.log, submission/); the grader, owning the folder, removes everything.
WORKDIR_MODE = 0o1770
SHARED_DIR_MODE, SHARED_FILE_MODE = 0o750, 0o640  # the copy of the solution: read-only for the worker


def worker_user(label: str, workdir: Path) -> dict:
    """Popen arguments that start the worker as its role's user, when the environment names one.

    The grader holds its capabilities as ambient ones (docker/entrypoint.sh); clearing them keeps the worker
    from inheriting any across exec. Changing the folder's group needs CAP_CHOWN, which the grader holds.
    """
    uid_text = os.environ.get(UID_VARIABLES[label])
    if not uid_text:
        return {}
    uid = int(uid_text)
    ctypes.CDLL(None, use_errno=True).prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    share_with_group(workdir, uid)
    return {"user": uid, "group": uid, "extra_groups": []}


def share_with_group(workdir: Path, gid: int) -> None:
    """Give ``workdir`` and what the grader copied into it to group ``gid``, and to nobody else."""
    for path in workdir.rglob("*"):
        os.chown(path, -1, gid, follow_symlinks=False)
        path.chmod(SHARED_DIR_MODE if path.is_dir() else SHARED_FILE_MODE)
    os.chown(workdir, -1, gid)
    workdir.chmod(WORKDIR_MODE)
