"""What a batch records for one student, whichever backend graded it."""

import json
from pathlib import Path

from diffchallenge import batch
from diffchallenge.reports.gradebook import Outcome
from pytest_diffchallenge.metadata import load_challenge
from pytest_diffchallenge.verdict import RESULTS_FILE, Status, TestRecord, Verdict

TOY = Path(__file__).resolve().parents[1] / "toy-bank" / "challenges" / "toy-challenge"


def graded(student: str) -> Outcome:
    test = TestRecord(name="test_small", nodeid="test_public.py::test_small", status=Status.PASSED, max_score=2.0,
                      visibility="visible")
    return Outcome(student, "graded", verdict=Verdict(challenge="toy-challenge", title="t", tests=[test]),
                   seconds=1.5)


def test_a_graded_student_gets_reports_and_no_outcome_file(tmp_path):
    outcome = batch.record_outcome(graded("ann"), tmp_path, load_challenge(TOY))
    assert outcome.status == "graded" and (tmp_path / RESULTS_FILE).is_file()
    assert not (tmp_path / batch.OUTCOME_FILE).exists()


def test_reports_that_cannot_be_written_make_an_infrastructure_error_for_that_student_alone(tmp_path, monkeypatch):
    def disk_full(verdict, out, limits, formats):
        (out / RESULTS_FILE).write_text("{half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(batch, "write_reports", disk_full)
    outcome = batch.record_outcome(graded("ann"), tmp_path, load_challenge(TOY))
    assert (outcome.status, outcome.verdict, outcome.seconds) == ("error", None, 1.5)
    assert "No space left on device" in outcome.message
    assert not (tmp_path / RESULTS_FILE).exists(), "no half-written report is left to be taken as a grade"
    assert json.loads((tmp_path / batch.OUTCOME_FILE).read_text())["status"] == "error"
