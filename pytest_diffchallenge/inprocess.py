"""In-process debugging (``--diffchallenge-in-process``): the solution runs inside pytest, with no isolation.

For challenge authors debugging a probe (pdb works) and for measuring what isolation costs. Never use it
for code you do not trust.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

from pytest_diffchallenge.client import WorkerClient
from pytest_diffchallenge.faults import SubmissionRaised
from pytest_diffchallenge.staging import copy_submission


class InProcessClient(WorkerClient):
    """UNSAFE: a WorkerClient whose 'worker' is an object in this very process."""

    worker = None

    @property
    def alive(self) -> bool:
        return self.worker is not None

    def start(self) -> None:
        from pytest_diffchallenge.worker.guards import guard_forbidden
        from pytest_diffchallenge.worker.serve import Worker

        # A copy, as a worker's: the submission's folder may hold more than it (solutions/<slug>/test_hidden.py), and
        # a forbidden API refuses any caller from the folder.
        self.workdir = Path(tempfile.mkdtemp(prefix="diffchallenge-in-process-", dir=self.scratch))
        submission = self.workdir / "submission"
        copy_submission(self.solution_dir, submission)
        for dotted in self.forbidden:
            guard_forbidden(dotted, str(submission.resolve()) + os.sep)
        self.worker = Worker(SimpleNamespace(submission=str(submission), probes=str(self.probes), device=self.device))

    def launch(self) -> None:
        self.start()

    def stop(self) -> None:
        self.worker = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def _request(self, request: dict) -> dict:
        from pytest_diffchallenge.worker.serve import describe

        if self.worker is None:
            self.start()
        worker = self.worker
        assert worker is not None  # start() made it
        try:
            return {"ok": True, **getattr(worker, request["op"])(request)}
        except Exception as error:
            raise SubmissionRaised(describe(error, worker.candidate_dir)) from None
