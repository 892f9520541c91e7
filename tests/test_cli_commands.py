"""The CLI's commands, bad input first (no grading), then the few real gradings that need the engine."""

import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import HOSTILE

from diffchallenge import batch, cli, grading
from diffchallenge.bank.challenges import all_challenges, get_challenge
from diffchallenge.bank.mutants import load_mutants, mutants_file
from diffchallenge.bank.mutation_record import catalog_score
from diffchallenge.grading import GradeOptions, GradingError
from pytest_diffchallenge.verdict import Reason, Status, TestRecord, Verdict, read_results

CORRECT = (HOSTILE / "correct.py").read_text()
LIST_COLUMNS = ["slug", "title", "domain", "difficulty", "points", "GPU variant", "mutation score"]


def is_border(char: str) -> bool:
    return "\u2500" <= char <= "\u257f"  # Unicode box drawing: rich's table borders


def run(capsys, *argv) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())  # rich wraps lines: compare words


def submission(folder: Path, source: str = CORRECT) -> Path:
    folder.mkdir(parents=True)
    (folder / "solution.py").write_text(source)
    return folder


# -- bad input: exit code 2, nothing graded, nothing lost ------------------------------------------------------
def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["grade", "--help"])
    text = capsys.readouterr().out
    assert "0  graded (whatever the score)" in text
    assert "3  infrastructure error" in text and "never reported as a score of 0" in text


def test_unknown_slug(toy_bank, tmp_path, capsys):
    good = submission(tmp_path / "good")
    for argv in (["show", "nope"], ["start", "nope", tmp_path / "ws"],
                 ["grade", good, "--challenge", "nope", "--out", tmp_path / "out"],
                 ["grade-batch", tmp_path, "--challenge", "nope", "--out", tmp_path / "out"]):
        code, output = run(capsys, *argv)
        assert code == 2, argv
        assert "unknown challenge 'nope' (known: toy-challenge)" in output
    assert not (tmp_path / "ws").exists() and not (tmp_path / "out" / "results.json").exists()


def test_submission_without_solution(toy_bank, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, output = run(capsys, "grade", tmp_path / "empty", "--challenge", "toy-challenge", "--out", tmp_path / "out")
    assert code == 2 and "holds no solution.py" in output
    code, output = run(capsys, "test", tmp_path / "empty")
    assert code == 2 and "holds no solution.py" in output


def test_unsafe_zip_non_zip_and_non_utf8_are_refused(toy_bank, tmp_path, capsys):
    escaping = tmp_path / "escaping.zip"
    with zipfile.ZipFile(escaping, "w") as archive:
        archive.writestr("solution.py", CORRECT)
        archive.writestr("../../outside.py", "x = 1")
    not_zip = tmp_path / "not.zip"
    not_zip.write_text("plain text")
    latin = submission(tmp_path / "latin", "def scaled_sum(a, b, alpha):\n    return a + alpha * b\n")
    (latin / "solution.py").write_bytes((latin / "solution.py").read_bytes() + b"# na\xefve\n")
    for path, message in ((escaping, "points outside the submission folder"), (not_zip, "is not a zip file"),
                          (latin, "solution.py is not valid utf-8 (byte 0xef")):
        code, output = run(capsys, "grade", path, "--challenge", "toy-challenge", "--out", tmp_path / "out")
        assert (code, message in output) == (2, True), output
    assert not (tmp_path / "out" / "results.json").exists()
    assert not (tmp_path.parent / "outside.py").exists()


def test_output_folder_holding_results_is_refused_without_force(toy_bank, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text('{"earlier": true}')
    code, output = run(capsys, "grade", submission(tmp_path / "sub"), "--challenge", "toy-challenge", "--out", out)
    assert code == 2 and "already holds results (results.json); pass --force" in output
    assert (out / "results.json").read_text() == '{"earlier": true}'


def test_grade_needs_a_challenge_when_the_submission_names_none(toy_bank, tmp_path, capsys):
    single = tmp_path / "mine.py"
    single.write_text(CORRECT)
    code, output = run(capsys, "grade", single, "--out", tmp_path / "out")
    assert code == 2 and "pass --challenge SLUG" in output


class RaisingRunner:
    """Stands in for the runner `grade` chose; its grading raises ``error``."""

    def __init__(self, error: Exception):
        self.error = error

    def grade(self, challenge, submission, out, options):
        raise self.error

    def stop_all(self):
        pass


def test_grader_crash_is_an_infrastructure_error_never_a_score(toy_bank, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "runner_for", lambda args: RaisingRunner(RuntimeError("the grader's own bug")))
    code, output = run(capsys, "grade", submission(tmp_path / "sub"), "--challenge", "toy-challenge", "--out",
                       tmp_path / "out")
    assert code == 3 and "the grader crashed; no verdict was produced" in output
    assert not any((tmp_path / "out").glob("*.json"))

    failing = RaisingRunner(GradingError("pytest exited with code 4 and wrote no verdict"))
    monkeypatch.setattr(cli, "runner_for", lambda args: failing)
    code, output = run(capsys, "grade", tmp_path / "sub", "--challenge", "toy-challenge", "--out", tmp_path / "out")
    assert code == 3 and "infrastructure error: pytest exited with code 4" in output
    assert not any((tmp_path / "out").glob("*.json"))


# -- candidates and authors -----------------------------------------------------------------------------------
def test_start_copies_only_what_candidates_may_see(tmp_path, capsys):
    challenge = get_challenge("ddim-step")
    code, output = run(capsys, "start", "ddim-step", tmp_path / "ws")
    assert code == 0 and "diffchallenge test" in output
    names = sorted(p.name for p in (tmp_path / "ws").iterdir())
    assert names == ["README.md", "challenge.toml", "probes.py", "run-tests.sh", "solution.py", "test_public.py"]
    assert (tmp_path / "ws" / "solution.py").read_text() == challenge.starter.read_text()
    assert "diffchallenge test" in (tmp_path / "ws" / "run-tests.sh").read_text()
    secrets = [(challenge.reference_dir / "solution.py").read_text(), challenge.hidden_tests.read_text()]
    assert all(p.read_text() not in secrets for p in (tmp_path / "ws").iterdir())
    code, output = run(capsys, "start", "ddim-step", tmp_path / "ws")
    assert code == 2 and "not empty" in output


def test_show_and_list(capsys):
    code, output = run(capsys, "show", "ddim-step")
    assert code == 0 and "DDIM update, by hand" in output and "Forbidden:" in output
    code, output = run(capsys, "list", "--domain", "architecture")
    assert code == 0 and "ddim-step" in output
    for challenge in all_challenges():
        if challenge.meta.domain != "architecture":
            assert challenge.slug not in output


def test_list_piped_prints_one_tab_separated_row_per_challenge(capsys):
    assert not sys.stdout.isatty()  # capsys: stdout is a pipe, as in `diffchallenge list | cut -f1`
    assert cli.main(["list"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    challenges = all_challenges()
    assert lines[0].split("\t") == LIST_COLUMNS
    assert len(lines) == 1 + len(challenges)  # header first, then one row per challenge, nothing else
    for line, challenge in zip(lines[1:], challenges, strict=True):
        meta = challenge.meta
        assert line.split("\t") == [challenge.slug, meta.title, meta.domain, meta.difficulty, str(meta.points),
                                    "yes" if meta.gpu_variant else "no", catalog_score(challenge)]
    assert not any(is_border(char) for char in captured.out), "no table borders when piped"
    assert "\x1b" not in captured.out, "no colour codes when piped"
    assert all(line == line.strip() for line in lines), "no padding: fields are not aligned into columns"

    assert cli.main(["list", "--domain", "architecture"]) == 0
    rows = capsys.readouterr().out.splitlines()
    architecture = [c.slug for c in challenges if c.meta.domain == "architecture"]
    assert rows[0].split("\t") == LIST_COLUMNS and [row.split("\t")[0] for row in rows[1:]] == architecture


def test_list_on_a_terminal_prints_a_table(capsys, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that rich truncates no slug
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert any(is_border(char) for char in out) and "\t" not in out
    assert all(challenge.slug in out for challenge in all_challenges())


def test_new_scaffolds_a_valid_challenge_and_refuses_to_overwrite(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DIFFCHALLENGE_BANK", str(tmp_path))
    code, output = run(capsys, "new", "noise-scale", "--domain", "efficiency", "--difficulty", "easy")
    assert code == 0 and "diffchallenge verify noise-scale" in output
    challenge = get_challenge("noise-scale")
    assert (challenge.meta.domain, challenge.meta.difficulty) == ("efficiency", "easy")
    for part in (challenge.statement, challenge.starter, challenge.probes, challenge.public_tests,
                 challenge.hidden_tests, challenge.reference_dir / "solution.py"):
        assert part.is_file(), part
    assert challenge.hidden_tests == tmp_path / "solutions" / "noise-scale" / "test_hidden.py"
    reference = (challenge.reference_dir / "solution.py").read_text()
    assert [m.source(reference, mutants_file(challenge)) != reference for m in load_mutants(challenge)] == [True]
    assert run(capsys, "new", "noise-scale")[0] == 2
    code, output = run(capsys, "new", "Bad Slug")
    assert code == 2 and "lowercase words joined by hyphens" in output


# -- real gradings --------------------------------------------------------------------------------------------
def test_grade_writes_every_report_for_a_scaffolded_reference(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DIFFCHALLENGE_BANK", str(tmp_path / "bank"))
    assert run(capsys, "new", "noise-scale")[0] == 0
    out = tmp_path / "out"
    code, output = run(capsys, "grade", tmp_path / "bank" / "solutions" / "noise-scale", "--challenge", "noise-scale",
                       "--out", out)
    assert code == 0, output
    verdict = read_results(out / "results.json")
    assert verdict.status == "graded" and verdict.score == verdict.max_score == 4
    assert verdict.environment["torch"].startswith("2.")
    assert [(t.visibility, t.status, t.reason) for t in verdict.tests] == [("visible", Status.PASSED, None),
                                                                           ("hidden", Status.PASSED, None)]
    gradescope = json.loads((out / "gradescope.json").read_text())
    assert [t["visibility"] for t in gradescope["tests"]] == ["visible", "hidden"]
    assert "<property name=\"points\" value=\"2\" />" in (out / "junit.xml").read_text()
    assert "Hidden tests: 1 of 1 passed" in (out / "feedback.md").read_text()
    assert (out / "grader.log").is_file()
    # The worker imports the probes before its sandbox, under -I: it still writes no bytecode into the bank.
    assert (tmp_path / "bank" / "challenges" / "noise-scale" / "probes.py").is_file()
    assert not list((tmp_path / "bank").rglob("__pycache__"))


def test_zipped_workspace_with_an_import_error_is_graded_with_the_reason(toy_bank, tmp_path, capsys):
    workspace = tmp_path / "ws"
    assert run(capsys, "start", "toy-challenge", workspace)[0] == 0
    (workspace / "solution.py").write_text("import no_such_module\n")
    archive = Path(shutil.make_archive(str(tmp_path / "ws"), "zip", tmp_path, "ws"))
    code, output = run(capsys, "grade", archive, "--out", tmp_path / "out")  # the challenge comes from the workspace
    assert code == 0, output
    verdict = read_results(tmp_path / "out" / "results.json")
    assert verdict.challenge == "toy-challenge" and verdict.score == 0
    assert verdict.submission == str(archive)
    assert [t.name for t in verdict.tests] == ["test_small", "test_memory", "test_secret_inputs"]
    for test in verdict.tests:
        assert (test.status, test.reason, test.raised) == (Status.FAILED, Reason.RAISED, "SolutionImportError")
        assert "could not be imported: ModuleNotFoundError: No module named 'no_such_module'" in test.message
    feedback = (tmp_path / "out" / "feedback.md").read_text()
    assert "- 1 test: raised" in feedback and "test_secret_inputs" not in feedback
    assert "solution.py could not be imported" in feedback  # the public tests' messages are shown in full


def test_workspace_test_reports_failures_and_points_so_far(toy_bank, tmp_path, capsys):
    assert run(capsys, "start", "toy-challenge", tmp_path / "ws")[0] == 0
    code, output = run(capsys, "test", tmp_path / "ws")
    assert code == 1, output
    assert "NotImplementedError: scaled_sum is not implemented yet" in output
    assert "Why: not implemented." in output
    assert "points so far: 0 of the public tests' 3" in output and "worth 6" in output
    assert "Hidden tests" not in output


def test_batch_grades_every_student_records_refusals_and_resumes(toy_bank, tmp_path, capsys):
    students = tmp_path / "students"
    submission(students / "alice")
    shutil.copyfile(HOSTILE / "syntax_error.py", students / "bob.py")
    with zipfile.ZipFile(students / "carol.zip", "w") as archive:  # a memory blow-up
        archive.write(HOSTILE / "resident_memory_bomb.py", "carol/solution.py")
    shutil.copyfile(HOSTILE / "segfaults.py", students / "dave.py")
    (submission(students / "erin") / "solution.py").write_bytes(b"# caf\xe9\n")
    (students / "frank").mkdir()
    out = tmp_path / "graded"

    code, output = run(capsys, "grade-batch", students, "--challenge", "toy-challenge", "--out", out, "--jobs", "2")
    assert code == 0, output
    assert "4 graded, 2 refused, 0 infrastructure errors" in output
    book = {row["student"]: row for row in json.loads((out / "gradebook.json").read_text())["students"]}
    assert list(book) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert (book["alice"]["status"], book["alice"]["score"], book["alice"]["max_score"]) == ("graded", 6, 6)
    for student in ("bob", "carol", "dave"):
        assert (book[student]["status"], book[student]["score"]) == ("graded", 0), student
    bob = read_results(out / "bob" / "results.json").tests[0]
    assert (bob.reason, bob.raised) == (Reason.RAISED, "SolutionImportError")
    carol = read_results(out / "carol" / "results.json").tests[0]
    assert "resident memory" in carol.message and carol.reason is Reason.OVER_MEMORY
    dave = read_results(out / "dave" / "results.json").tests[0]
    assert "killed by signal SIGSEGV" in dave.message and dave.reason is Reason.CRASHED
    for student, reason in (("erin", "not valid utf-8"), ("frank", "holds no solution.py")):
        assert book[student]["status"] == "refused" and book[student]["score"] is None
        assert reason in json.loads((out / student / "outcome.json").read_text())["message"]
        assert not (out / student / "results.json").exists()
    csv_lines = (out / "gradebook.csv").read_text().splitlines()
    assert csv_lines[0].startswith("student,status,score,max_score") and csv_lines[0].endswith("test_secret_inputs")
    assert csv_lines[5].startswith("erin,refused,,,")
    for student in ("alice", "bob", "carol", "dave"):
        reports = {p.name for p in (out / student).iterdir()}
        assert {"results.json", "gradescope.json", "junit.xml", "feedback.md"} <= reports

    first = (out / "alice" / "results.json").read_text()
    code, output = run(capsys, "grade-batch", students, "--challenge", "toy-challenge", "--out", out)
    assert code == 0 and output.count("(already graded: skipped)") == 4
    assert (out / "alice" / "results.json").read_text() == first
    assert json.loads((out / "gradebook.json").read_text())["students"][0]["score"] == 6


class FakeRunner:
    """Stands in for the fork server's runner: grades instantly; 'broken' hits an infrastructure error."""

    def __init__(self):
        self.options: dict[str, GradeOptions] = {}

    def grade(self, challenge, submission, out, options) -> Verdict:
        self.options[submission.name] = options
        if submission.name == "broken":
            raise GradingError("pytest exited with code -9 and wrote no verdict")
        tests = [TestRecord(name="test_small", nodeid="test_public.py::test_small", status=Status.PASSED,
                            max_score=2.0, visibility="visible")]
        return Verdict(challenge=challenge.slug, title="t", tests=tests, duration_s=0.1)

    def stop_all(self):
        pass


def test_infrastructure_error_of_one_student_is_recorded_not_scored(toy_bank, tmp_path, capsys, monkeypatch):
    runner = FakeRunner()
    monkeypatch.setattr(batch, "forkserver_runner", lambda: runner)
    monkeypatch.setattr(batch, "usable_cores", lambda: 8)
    for name in ("ann", "broken", "zoe"):
        submission(tmp_path / "subs" / name)
    code, output = run(capsys, "grade-batch", tmp_path / "subs", "--challenge", "toy-challenge", "--out",
                       tmp_path / "out", "--jobs", "4")
    assert code == 3 and "1 infrastructure errors" in output
    book = {row["student"]: row for row in json.loads((tmp_path / "out" / "gradebook.json").read_text())["students"]}
    assert (book["broken"]["status"], book["broken"]["score"]) == ("error", None)
    assert "wrote no verdict" in book["broken"]["message"]
    assert book["ann"]["score"] == book["zoe"]["score"] == 2
    assert read_results(tmp_path / "out" / "ann" / "results.json").score == 2
    assert {name: options.threads for name, options in runner.options.items()} == {
        "ann": 2, "broken": 2, "zoe": 2}  # 8 cores / 4 jobs
    assert not (tmp_path / "out" / "broken" / "results.json").exists()
    assert json.loads((tmp_path / "out" / "broken" / "outcome.json").read_text())["status"] == "error"


def test_a_trusted_session_past_its_limit_is_killed_and_recorded(toy_bank, tmp_path, monkeypatch):
    # The session hangs while collecting the public tests (trusted code), before it writes any verdict.
    public_tests = toy_bank / "challenges" / "toy-challenge" / "test_public.py"
    public_tests.write_text("import threading\n\nthreading.Event().wait()  # never set\n" + public_tests.read_text())
    monkeypatch.setattr(grading, "session_limit", lambda challenge: 0.5)
    runner = batch.forkserver_runner()
    try:
        outcome = batch.grade_student(runner, get_challenge("toy-challenge"), "slow", submission(tmp_path / "slow"),
                                      tmp_path / "out", GradeOptions(threads=1), False)
        sessions = list(runner.launcher.sessions)
    finally:
        runner.stop_all()
    assert outcome.status == "error" and outcome.verdict is None
    assert "GradingError: the grading session ran past its 0.5 s limit and left no verdict" in outcome.message
    assert [session.process.exitcode for session in sessions] == [-9], "the session was killed"
    assert json.loads((tmp_path / "out" / "slow" / "outcome.json").read_text())["status"] == "error"
    assert not (tmp_path / "out" / "slow" / "results.json").exists()
