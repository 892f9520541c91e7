"""Diagnosis of known mistakes, with a fake grading: which mutant a failed test's outputs match, what is graded
(and what is not), and how a diagnosis is kept in the verdict and shown in the reports."""

import json
from pathlib import Path

import pytest
import torch

from diffchallenge.bank.challenges import get_challenge
from diffchallenge.bank.mutants import load_mutants
from diffchallenge.diagnosis import Diagnoser, TestOutputs, same_mistake
from diffchallenge.grading import GradeOptions, LocalRunner
from diffchallenge.reports import feedback, junit
from pytest_diffchallenge.artifacts import Comparison
from pytest_diffchallenge.verdict import MESSAGE_CHARS, Reason, Status, TestRecord, Verdict, VerdictError

CHALLENGE = get_challenge("ddim-step")
MUTANTS = load_mutants(CHALLENGE)
FIRST, SECOND = MUTANTS[0], MUTANTS[1]
CANDIDATE = Path("candidate")
PUBLIC = "test_public.py::test_tuple_return"
HIDDEN = "test_hidden.py::test_thresholding"
TOLERANCE = 1e-3
EXPECTED = torch.linspace(-1, 1, 16)
WRONG = EXPECTED + 0.5  # the mutants' output, unless a test says otherwise
ELSEWHERE = EXPECTED - 0.5  # an output no mutant gives


def comparisons(got: torch.Tensor, name: str = "step: prev_sample") -> tuple[Comparison, ...]:
    return (Comparison(name=name, got=got, expected=EXPECTED, rtol=TOLERANCE, atol=TOLERANCE),)


def wrong(got: torch.Tensor = WRONG, **changes) -> TestOutputs:
    return TestOutputs(wrong_output=True, comparisons=comparisons(got, **changes))


class FakeGrading:
    """Stands in for ``grade_outputs``: each submission's outputs by folder name (the candidate's, or a mutant's),
    on every test or by nodeid, and every grading it was asked for."""

    def __init__(self, candidate: TestOutputs, mutants: dict[str, TestOutputs | dict[str, TestOutputs]] | None = None):
        self.outputs = {CANDIDATE.name: candidate, **(mutants or {})}
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.secrets: set[str] = set()

    def __call__(self, launcher, challenge, submission, out, options, secret):
        assert options.artifacts and not options.stop_at_first_failure and options.only
        self.calls.append((submission.name, options.only))
        self.secrets.add(secret)
        outputs = self.outputs.get(submission.name, wrong(ELSEWHERE))
        return {nodeid: outputs[nodeid] if isinstance(outputs, dict) else outputs for nodeid in options.only}

    def graded(self, name: str) -> list[tuple[str, ...]]:
        return [only for submission, only in self.calls if submission == name]


def record(nodeid: str, status=Status.FAILED, reason=Reason.WRONG_OUTPUT, visibility="visible", **extra):
    return TestRecord(name=nodeid.split("::")[1], nodeid=nodeid, status=status, max_score=1.0, visibility=visibility,
                      reason=None if status is Status.PASSED else reason, **extra)


def verdict_of(*tests: TestRecord) -> Verdict:
    return Verdict(challenge=CHALLENGE.slug, title="DDIM step", tests=list(tests))


def diagnosed(grading: FakeGrading, verdict: Verdict, runner=None) -> Verdict:
    with Diagnoser(GradeOptions(), grading) as diagnoser:
        return diagnoser.diagnose(CHALLENGE, CANDIDATE, verdict, runner or LocalRunner(launcher=object()))


def diagnosis(verdict: Verdict, nodeid: str = PUBLIC) -> str:
    return next(test.diagnosis for test in verdict.tests if test.nodeid == nodeid)


# -- matching ----------------------------------------------------------------------------------------------------
def test_outputs_within_the_tests_tolerance_match_the_mutant():
    grading = FakeGrading(wrong(WRONG + TOLERANCE / 2), {FIRST.name: wrong()})
    assert diagnosis(diagnosed(grading, verdict_of(record(PUBLIC)))) == FIRST.mistake


def test_outputs_outside_the_tolerance_do_not_match():
    grading = FakeGrading(wrong(WRONG + 3 * TOLERANCE), {FIRST.name: wrong()})
    assert diagnosis(diagnosed(grading, verdict_of(record(PUBLIC)))) == ""


def test_a_mutant_that_passes_the_test_never_matches():
    passing = TestOutputs(wrong_output=False, comparisons=comparisons(WRONG))
    grading = FakeGrading(wrong(), {FIRST.name: passing, SECOND.name: wrong()})
    assert diagnosis(diagnosed(grading, verdict_of(record(PUBLIC)))) == SECOND.mistake


def test_a_test_that_compared_nothing_matches_nothing():
    nothing = TestOutputs(wrong_output=True, comparisons=())
    assert not same_mistake(nothing, nothing)
    grading = FakeGrading(nothing, {mutant.name: nothing for mutant in MUTANTS})
    assert diagnosis(diagnosed(grading, verdict_of(record(PUBLIC)))) == ""


def test_every_comparison_must_agree_by_name_count_and_expected_output():
    assert same_mistake(wrong(), wrong())
    assert not same_mistake(wrong(), wrong(name="step: pred_original_sample"))
    assert not same_mistake(wrong(), TestOutputs(True, wrong().comparisons * 2))
    other_inputs = Comparison(name="step: prev_sample", got=WRONG, expected=-EXPECTED, rtol=TOLERANCE, atol=TOLERANCE)
    assert not same_mistake(wrong(), TestOutputs(True, (other_inputs,)))
    assert not same_mistake(wrong(), wrong(WRONG[:8]))


def test_nan_and_inf_where_the_mutant_has_them_match():
    odd = WRONG.clone()
    odd[:2] = torch.tensor([float("nan"), float("inf")])
    assert same_mistake(wrong(odd), wrong(odd.clone()))
    assert not same_mistake(wrong(odd), wrong())


def test_the_first_matching_mutant_in_file_order_wins_and_the_rest_are_not_graded():
    grading = FakeGrading(wrong(), {FIRST.name: wrong(), SECOND.name: wrong()})
    assert diagnosis(diagnosed(grading, verdict_of(record(PUBLIC)))) == FIRST.mistake
    assert [name for name, _ in grading.calls] == [CANDIDATE.name, FIRST.name]


def test_each_test_gets_its_own_mutant_and_diagnosed_tests_are_not_graded_again():
    grading = FakeGrading(wrong(), {FIRST.name: {PUBLIC: wrong(), HIDDEN: wrong(ELSEWHERE)}, SECOND.name: wrong()})
    verdict = diagnosed(grading, verdict_of(record(PUBLIC), record(HIDDEN, visibility="hidden")))
    assert diagnosis(verdict, PUBLIC) == FIRST.mistake
    assert diagnosis(verdict, HIDDEN) == SECOND.mistake
    assert grading.graded(FIRST.name) == [(PUBLIC, HIDDEN)]
    assert grading.graded(SECOND.name) == [(HIDDEN,)]


# -- what is graded ----------------------------------------------------------------------------------------------
def test_a_cached_mutant_is_not_graded_again_and_the_secret_stays():
    grading = FakeGrading(wrong(), {SECOND.name: wrong()})
    with Diagnoser(GradeOptions(), grading) as diagnoser:
        runner = LocalRunner(launcher=object())
        for _ in range(2):
            verdict = diagnoser.diagnose(CHALLENGE, CANDIDATE, verdict_of(record(PUBLIC)), runner)
            assert diagnosis(verdict) == SECOND.mistake
    assert grading.graded(CANDIDATE.name) == [(PUBLIC,), (PUBLIC,)]  # the candidate, each time
    assert grading.graded(FIRST.name) == grading.graded(SECOND.name) == [(PUBLIC,)]  # each mutant, once
    assert len(grading.secrets) == 1


def test_only_tests_that_failed_on_their_output_are_graded_again():
    grading = FakeGrading(wrong(), {FIRST.name: wrong()})
    tests = [record(PUBLIC), record("test_public.py::test_passes", Status.PASSED),
             *(record(f"test_public.py::test_{reason.name.lower()}", reason=reason)
               for reason in Reason if reason is not Reason.WRONG_OUTPUT),
             record("test_public.py::test_error", Status.ERROR, Reason.INFRASTRUCTURE)]
    verdict = diagnosed(grading, verdict_of(*tests))
    assert grading.calls == [(CANDIDATE.name, (PUBLIC,)), (FIRST.name, (PUBLIC,))]
    assert [test.diagnosis for test in verdict.tests] == [FIRST.mistake] + [""] * (len(tests) - 1)


def test_nothing_is_graded_without_a_wrong_output():
    grading = FakeGrading(wrong())
    verdict = verdict_of(record(PUBLIC, Status.PASSED), record(HIDDEN, reason=Reason.TIMED_OUT))
    assert diagnosed(grading, verdict) == verdict
    assert grading.calls == []


def test_a_candidate_that_passes_when_graded_again_gets_no_diagnosis_and_no_mutant_is_graded():
    grading = FakeGrading(TestOutputs(wrong_output=False, comparisons=comparisons(EXPECTED)), {FIRST.name: wrong()})
    assert diagnosis(diagnosed(grading, verdict_of(record(PUBLIC)))) == ""
    assert [name for name, _ in grading.calls] == [CANDIDATE.name]


def test_another_runner_leaves_the_verdict_as_it_was():
    class DockerLike:
        def grade(self, challenge, submission, out, options):
            raise AssertionError("not graded")

    grading = FakeGrading(wrong(), {FIRST.name: wrong()})
    verdict = verdict_of(record(PUBLIC))
    assert diagnosed(grading, verdict, runner=DockerLike()) == verdict
    assert grading.calls == []


def test_a_fault_in_diagnosis_leaves_the_verdict_as_it_was(caplog):
    def broken(*arguments):
        raise RuntimeError("the session could not start")

    verdict = verdict_of(record(PUBLIC))
    with Diagnoser(GradeOptions(), broken) as diagnoser:
        assert diagnoser.diagnose(CHALLENGE, CANDIDATE, verdict, LocalRunner(launcher=object())) == verdict
    assert "diagnosis failed" in caplog.text


def test_the_scratch_folder_goes_with_the_diagnoser():
    grading = FakeGrading(wrong(), {FIRST.name: wrong()})
    with Diagnoser(GradeOptions(), grading) as diagnoser:
        diagnoser.diagnose(CHALLENGE, CANDIDATE, verdict_of(record(PUBLIC)), LocalRunner(launcher=object()))
        assert (diagnoser.scratch / "mutants" / CHALLENGE.slug / FIRST.name / "solution.py").is_file()
    assert not diagnoser.scratch.exists()


# -- the verdict and the reports ---------------------------------------------------------------------------------
def test_a_diagnosis_is_kept_in_results_json():
    verdict = verdict_of(record(PUBLIC, diagnosis=FIRST.mistake))
    data = json.loads(json.dumps(verdict.to_json()))
    assert data["tests"][0]["diagnosis"] == FIRST.mistake
    assert Verdict.from_json(data) == verdict
    del data["tests"][0]["diagnosis"]  # results.json written before diagnosis existed
    assert Verdict.from_json(data).tests[0].diagnosis == ""


def test_a_diagnosis_read_back_is_readable_and_capped():
    data = record(PUBLIC).to_json() | {"diagnosis": "NUL \x00 escape \x1b" + "x" * (2 * MESSAGE_CHARS)}
    text = TestRecord.from_json(data).diagnosis
    assert text.startswith("NUL \ufffd escape \ufffd") and len(text) == MESSAGE_CHARS
    with pytest.raises(VerdictError, match="string"):
        TestRecord.from_json(data | {"diagnosis": 3})


def test_a_passed_test_has_no_diagnosis():
    with pytest.raises(VerdictError, match="diagnosis"):
        TestRecord.from_json(record(PUBLIC, Status.PASSED).to_json() | {"diagnosis": FIRST.mistake})


def test_feedback_shows_a_public_tests_diagnosis_but_not_a_hidden_ones():
    verdict = verdict_of(record(PUBLIC, diagnosis=FIRST.mistake),
                         record(HIDDEN, visibility="hidden", diagnosis=SECOND.mistake))
    text = feedback.markdown(verdict, CHALLENGE.meta.limits)
    assert f"This output matches a known mistake: {FIRST.mistake}." in text
    assert SECOND.mistake not in text


def test_junit_has_the_diagnosis_as_a_property():
    xml = junit.xml(verdict_of(record(PUBLIC, diagnosis="forgets <eta> & sqrt")))
    assert '<property name="diagnosis" value="forgets &lt;eta&gt; &amp; sqrt" />' in xml
