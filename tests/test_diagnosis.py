"""Diagnosis on a real challenge: a kept mutant submitted as a candidate is diagnosed as that mutant's mistake
(through ``diffchallenge grade``), and the reference, graded on the same tests, gets no diagnosis."""

from diffchallenge import cli
from diffchallenge.bank.challenges import get_challenge
from diffchallenge.bank.mutants import load_mutants, reference_dir
from diffchallenge.diagnosis import Diagnoser
from diffchallenge.grading import GradeOptions, LocalRunner, grade
from diffchallenge.reports import feedback, junit
from pytest_diffchallenge.verdict import RESULTS_FILE, Reason, Status, read_results

SLUG = "ddim-step"  # the fastest of the step challenges to grade


def test_a_mutant_is_diagnosed_as_its_mistake_and_the_reference_is_not(tmp_path):
    challenge = get_challenge(SLUG)
    # The first mutant, so that the diagnosis grades the candidate again and one mutant, no other.
    mutant = load_mutants(challenge)[0]
    candidate = mutant.write(challenge, tmp_path / "candidate")
    out = tmp_path / "out"
    assert cli.main(["grade", str(candidate), "--challenge", SLUG, "--out", str(out)]) == 0
    verdict = read_results(out / RESULTS_FILE)
    wrong = [test for test in verdict.tests if test.reason is Reason.WRONG_OUTPUT]
    assert wrong, "the mutant fails a test on its output"
    assert {test.diagnosis for test in wrong} == {mutant.mistake}
    assert all(not test.diagnosis for test in verdict.tests if test.reason is not Reason.WRONG_OUTPUT)
    assert mutant.mistake in (out / junit.FILE).read_text()
    # feedback.md names the mistake under a failed public test only.
    shown = (out / feedback.FILE).read_text()
    assert (mutant.mistake in shown) == any(not test.hidden for test in wrong)

    only = tuple(test.nodeid for test in wrong)
    reference = grade(challenge, reference_dir(challenge), tmp_path / "reference", GradeOptions(only=only))
    assert [test.nodeid for test in reference.tests] == list(only)
    assert all(test.status is Status.PASSED for test in reference.tests)
    with Diagnoser(GradeOptions()) as diagnoser:
        assert diagnoser.diagnose(challenge, reference_dir(challenge), reference, LocalRunner()) == reference
        # Graded again, the reference passes the tests the mutant failed: the mutant's verdict, as if the
        # reference had been its submission, gets no diagnosis either.
        mutant_verdict = verdict.with_(tests=wrong)
        assert diagnoser.diagnose(challenge, reference_dir(challenge), mutant_verdict, LocalRunner()) == mutant_verdict
