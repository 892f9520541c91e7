"""`diffchallenge grade --format html` on the toy bank: a real grading keeps its artifacts, and report.html
draws them (the unit tests, tests/unit/test_html.py, cover the page itself)."""

import re
import shutil

from conftest import HOSTILE

from diffchallenge import cli
from pytest_diffchallenge.artifacts import read_artifacts
from pytest_diffchallenge.verdict import Reason, read_results


def test_grade_writes_a_report_with_the_outputs_of_a_wrong_hidden_test(toy_bank, tmp_path, capsys):
    submission = tmp_path / "half_right"
    submission.mkdir()
    shutil.copyfile(HOSTILE / "half_right.py", submission / "solution.py")
    out = tmp_path / "out"
    code = cli.main(["grade", str(submission), "--challenge", "toy-challenge", "--out", str(out), "--format", "html"])
    assert code == 0, capsys.readouterr().err
    assert {path.name for path in out.iterdir()} >= {"results.json", "report.html"}
    assert not (out / "feedback.md").exists(), "only the formats asked for"
    verdict = read_results(out / "results.json")
    secret = {test.name: test for test in verdict.tests}["test_secret_inputs"]
    assert (secret.reason, verdict.score) == (Reason.WRONG_OUTPUT, 3)

    page = (out / "report.html").read_text()
    assert "test_secret_inputs" in page and "Interviewer only" in page
    # The hidden test's output is 4 x 5: drawn, with its PSNR; the public test's (6 values) is not.
    assert "<code>scaled_sum: out</code> (4 x 5;" in page and "PSNR" in page
    assert "<code>scaled_sum: out</code> (6;" in page
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) >= 1
    assert "http" not in page.replace("http-equiv", ""), "nothing to fetch"

    kept = read_artifacts(out)
    assert set(kept) <= {test.nodeid for test in verdict.tests} and secret.nodeid in kept
    for_candidate = tmp_path / "for-candidate"
    code = cli.main(["grade", str(submission), "--challenge", "toy-challenge", "--out", str(for_candidate),
                     "--format", "html", "--audience", "candidate"])
    assert code == 0, capsys.readouterr().err
    candidate = (for_candidate / "report.html").read_text()
    assert "test_secret_inputs" not in candidate and "(4 x 5;" not in candidate
    assert "Hidden tests: 0 / 3 points" in candidate and "test_small" in candidate
