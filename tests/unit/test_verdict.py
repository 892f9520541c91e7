"""The verdict and the faults: one record format, validated when read, written atomically; a fault's class
alone decides a test's status and reason."""

import json
import os
import stat
from pathlib import Path

import pytest

from pytest_diffchallenge import faults
from pytest_diffchallenge import verdict as verdict_module
from pytest_diffchallenge.faults import (
    BadReply,
    GraderError,
    MalformedReply,
    MismatchError,
    OverRuntimeBudget,
    SubmissionFault,
    SubmissionMemoryExceeded,
    SubmissionRaised,
    SubmissionTimedOut,
    TrustedCodeHung,
    WorkerDied,
    WorkerStartFailed,
    classify,
)
from pytest_diffchallenge.verdict import (
    MAX_FIGURE,
    RESULTS_FILE,
    Reason,
    Status,
    TestRecord,
    Verdict,
    VerdictError,
    clean_figures,
    read_results,
    write_results,
)

NAN, INF = float("nan"), float("inf")


def record(name="test_a", status=Status.PASSED, reason=None, max_score=1.0, visibility="visible", **extra):
    return TestRecord(name=name, nodeid=f"test_public.py::{name}", status=status, max_score=max_score,
                      visibility=visibility, reason=reason, **extra)


def sample_verdict(**changes) -> Verdict:
    verdict = Verdict(
        challenge="ddim-step", title="DDIM step",
        tests=[record("test_a", max_score=2.0, figures={"max_abs_error": 1.5e-7}),
               record("test_b", Status.FAILED, Reason.WRONG_OUTPUT, max_score=3.0, message="does not match",
                      visibility="hidden"),
               record("test_c", Status.FAILED, Reason.RAISED, raised="ZeroDivisionError", message="boom")],
        unfinished=[record("test_d", Status.ERROR, Reason.INFRASTRUCTURE, message="session stopped")],
        errors=[], isolation="worker process",
        environment={"torch": "2.13.0", "python": "3.11.7"}, duration_s=12.5, submission="/tmp/sub",
        runner={"kind": "docker", "image": "diffchallenge:cpu", "cpus": 2.0, "gpus": None, "ok": True})
    return verdict.with_(**changes)


def record_json(**changes) -> dict:
    data = record("test_x", Status.FAILED, Reason.TIMED_OUT).to_json()
    data.update(changes)
    return data


def verdict_json(**changes) -> dict:
    data = sample_verdict().to_json()
    data.update(changes)
    return data


# -- round trip and derived fields -----------------------------------------------------------------------------
def test_to_json_and_from_json_round_trip():
    verdict = sample_verdict()
    data = verdict.to_json()
    assert Verdict.from_json(data) == verdict
    assert Verdict.from_json(json.loads(json.dumps(data))) == verdict  # through text, as a file is read
    assert Verdict.from_json(data).to_json() == data


def test_round_trip_keeps_enums_as_enums():
    again = Verdict.from_json(sample_verdict().to_json())
    assert again.tests[1].status is Status.FAILED and again.tests[1].reason is Reason.WRONG_OUTPUT
    assert again.tests[0].reason is None
    assert again.unfinished[0].status is Status.ERROR


def test_every_status_and_reason_round_trips():
    for status in Status:
        for reason in [None] if status is Status.PASSED else list(Reason):
            data = record("t", status, reason).to_json()
            assert TestRecord.from_json(json.loads(json.dumps(data))) == record("t", status, reason)


def test_the_json_holds_the_derived_fields():
    data = sample_verdict().to_json()
    assert (data["status"], data["score"], data["max_score"]) == ("graded", 2.0, 6.0)
    assert [t["score"] for t in data["tests"]] == [2.0, 0.0, 0.0]
    assert data["tests"][1]["reason"] == "wrong output" and data["tests"][0]["reason"] is None
    assert data["tests"][2]["raised"] == "ZeroDivisionError"


def test_score_and_max_score_are_derived_from_the_tests():
    verdict = sample_verdict()
    assert verdict.score == 2.0 and verdict.max_score == 6.0
    assert [t.score for t in verdict.tests] == [2.0, 0.0, 0.0]
    assert Verdict(challenge="c", title="", tests=[]).score == 0 == Verdict("c", "", []).max_score


def test_scores_in_the_json_are_not_trusted_when_read_back():
    data = verdict_json(score=100.0, max_score=100.0, status="graded")
    data["tests"][1]["score"] = 3.0  # a forged score for a failed test
    verdict = Verdict.from_json(data)
    assert verdict.score == 2.0 and verdict.max_score == 6.0
    assert verdict.tests[1].score == 0.0


def test_unfinished_tests_do_not_count_towards_the_score():
    verdict = sample_verdict(unfinished=[record("test_u", Status.PASSED, max_score=10.0)])
    assert verdict.max_score == 6.0 and verdict.score == 2.0


def test_status_is_graded_when_no_test_is_an_error_and_there_are_no_errors():
    assert sample_verdict().status == "graded"
    assert sample_verdict(tests=[]).status == "graded"


def test_status_is_error_when_a_test_is_an_error():
    tests = sample_verdict().tests + [record("test_e", Status.ERROR, Reason.INFRASTRUCTURE)]
    assert sample_verdict(tests=tests).status == "error"
    assert sample_verdict(tests=tests).to_json()["status"] == "error"


def test_status_is_error_when_the_grader_failed_outside_any_test():
    verdict = sample_verdict(errors=["the worker could not start"])
    assert verdict.status == "error"
    assert Verdict.from_json(verdict.to_json()).status == "error"


def test_an_error_in_an_unfinished_test_alone_does_not_make_the_verdict_an_error():
    assert sample_verdict().unfinished[0].status is Status.ERROR
    assert sample_verdict().status == "graded"


def test_hidden_is_read_from_the_visibility():
    tests = sample_verdict().tests
    assert [t.hidden for t in tests] == [False, True, False]


# -- refusals ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [None, [], "verdict", 1, 1.5, True], ids=repr)
def test_a_verdict_that_is_not_an_object_is_refused(data):
    with pytest.raises(VerdictError, match="not a JSON object"):
        Verdict.from_json(data)


@pytest.mark.parametrize("changes", [
    {"challenge": 3}, {"challenge": None}, {"title": ["t"]}, {"tests": {"a": 1}}, {"tests": "[]"}, {"tests": None},
    {"unfinished": {}}, {"errors": "oops"}, {"errors": [1]}, {"skipped": [None]}, {"isolation": 0},
    {"environment": []}, {"runner": "docker"}, {"duration_s": "12"}, {"duration_s": True}, {"duration_s": None},
    {"duration_s": NAN}, {"duration_s": INF}, {"duration_s": -INF}, {"submission": 1},
    {"tests": [None]}, {"tests": ["test_a"]}, {"unfinished": [1]},
], ids=lambda c: ",".join(f"{k}={v!r}" for k, v in c.items()))
def test_a_verdict_with_wrong_types_is_refused(changes):
    with pytest.raises(VerdictError):
        Verdict.from_json(verdict_json(**changes))


@pytest.mark.parametrize("missing", ["challenge", "tests"])
def test_a_verdict_without_its_required_fields_is_refused(missing):
    data = verdict_json()
    del data[missing]
    with pytest.raises(VerdictError, match="malformed"):
        Verdict.from_json(data)


def test_a_verdict_with_only_its_required_fields_loads_with_defaults():
    verdict = Verdict.from_json({"challenge": "c", "tests": []})
    assert verdict == Verdict(challenge="c", title="", tests=[])


@pytest.mark.parametrize("changes", [
    {"status": "passed!"}, {"status": "PASSED"}, {"status": None}, {"status": 1},
    {"reason": "wrong"}, {"reason": "Wrong Output"}, {"reason": ""}, {"reason": 3},
    {"name": 1}, {"nodeid": None}, {"visibility": "secret"}, {"visibility": True}, {"message": 5}, {"raised": []},
    {"max_score": "1"}, {"max_score": True}, {"max_score": -1.0}, {"max_score": NAN}, {"max_score": INF},
    {"max_score": None},
], ids=lambda c: ",".join(f"{k}={v!r}" for k, v in c.items()))
def test_a_test_record_with_wrong_types_or_unknown_values_is_refused(changes):
    with pytest.raises(VerdictError):
        TestRecord.from_json(record_json(**changes))
    with pytest.raises(VerdictError):  # and so is a verdict that holds it
        Verdict.from_json(verdict_json(tests=[record_json(**changes)]))


@pytest.mark.parametrize("missing", ["name", "nodeid", "status", "max_score", "visibility"])
def test_a_test_record_without_its_required_fields_is_refused(missing):
    data = record_json()
    del data[missing]
    with pytest.raises(VerdictError, match="malformed"):
        TestRecord.from_json(data)


@pytest.mark.parametrize("data", [None, [], "test", 3], ids=repr)
def test_a_test_record_that_is_not_an_object_is_refused(data):
    with pytest.raises(VerdictError, match="not an object"):
        TestRecord.from_json(data)


@pytest.mark.parametrize("reason", list(Reason))
def test_a_passed_test_with_a_reason_is_refused(reason):
    with pytest.raises(VerdictError, match="a reason goes with a test that did not pass"):
        TestRecord.from_json(record_json(status="passed", reason=str(reason)))


@pytest.mark.parametrize("status", ["failed", "error"])
def test_a_test_that_did_not_pass_without_a_reason_is_refused(status):
    for data in (record_json(status=status, reason=None), {k: v for k, v in record_json(status=status).items()
                                                             if k != "reason"}):
        with pytest.raises(VerdictError, match="a reason goes with a test that did not pass"):
            TestRecord.from_json(data)


def test_a_verdict_error_is_a_value_error():
    assert issubclass(VerdictError, ValueError)


# -- reading files ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "{", "not json", "\xff", "[1, 2", '{"challenge": "c", "tests": []'],
                         ids=repr)
def test_read_results_refuses_a_file_that_is_not_json(tmp_path, text):
    path = tmp_path / RESULTS_FILE
    path.write_text(text, encoding="latin-1")
    with pytest.raises(VerdictError, match="cannot read a verdict"):
        read_results(path)


def test_read_results_refuses_a_missing_file(tmp_path):
    with pytest.raises(VerdictError, match="cannot read a verdict"):
        read_results(tmp_path / "absent.json")


def test_read_results_refuses_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / RESULTS_FILE
    path.write_bytes(b'{"challenge": "\xff\xfe", "tests": []}')
    with pytest.raises(VerdictError):
        read_results(path)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("where", ["top", "tests", "test-record", "runner", "environment", "errors", "figures"])
def test_deep_nesting_is_a_verdict_error_not_a_recursion_error(tmp_path, where, depth):
    deep = nested(depth)
    text = {
        "top": deep,
        "tests": f'{{"challenge": "c", "tests": {deep}}}',
        "test-record": f'{{"challenge": "c", "tests": [{{"name": {deep}}}]}}',
        "runner": f'{{"challenge": "c", "tests": [], "runner": {{"a": {deep}}}}}',
        "environment": f'{{"challenge": "c", "tests": [], "environment": {{"a": {deep}}}}}',
        "errors": f'{{"challenge": "c", "tests": [], "errors": {deep}}}',
        "figures": f'{{"challenge": "c", "tests": [{{"name": "t", "nodeid": "t", "status": "passed", '
                   f'"max_score": 1, "visibility": "visible", "figures": {{"a": {deep}}}}}]}}',
    }[where]
    path = tmp_path / RESULTS_FILE
    path.write_text(text)
    try:
        read_results(path)
    except VerdictError:
        return
    except RecursionError:
        pass  # failed outside the handler: a RecursionError's traceback is a thousand frames long
    pytest.fail(f"read_results raised RecursionError for nesting {depth} deep in {where}")


def test_read_results_reads_what_write_results_wrote(tmp_path):
    path = tmp_path / RESULTS_FILE
    write_results(path, sample_verdict())
    assert read_results(path) == sample_verdict()


# -- whatever is read can be written ----------------------------------------------------------------------------
@pytest.mark.parametrize("runner", [{"cpus": NAN}, {"memory": INF}, {"limits": [1.0, -INF]}],
                         ids=["nan", "inf", "nested-inf"])
def test_a_verdict_read_back_can_always_be_written(tmp_path, runner):
    # The module's promise: everything read back is validated, "so a report can always be written".
    # json.loads accepts NaN and Infinity: the verdict must be refused when read, or written back without them.
    source = tmp_path / "in.json"
    source.write_text(json.dumps(verdict_json(runner=runner)))  # json.dumps writes NaN and Infinity
    try:
        verdict = read_results(source)
    except VerdictError:
        return
    write_results(tmp_path / RESULTS_FILE, verdict)
    assert "NaN" not in (tmp_path / RESULTS_FILE).read_text()


def test_a_deeply_nested_runner_read_back_can_be_written(tmp_path):
    # from_json accepts a runner nested 500 deep (json.loads manages), but to_json (dataclasses.asdict recurses
    # twice per level) and json.dumps then raise RecursionError: a report could not be written.
    source = tmp_path / "in.json"
    source.write_text(json.dumps(verdict_json())[:-1] + f', "runner": {{"a": {nested(500)}}}}}')
    try:
        verdict = read_results(source)
    except VerdictError:
        return  # refusing it when read is fine too
    try:
        write_results(tmp_path / RESULTS_FILE, verdict)
        return
    except RecursionError:
        pass
    pytest.fail("a verdict that read_results accepted could not be written (RecursionError)")


# -- figures ---------------------------------------------------------------------------------------------------
def test_clean_figures_keeps_finite_numbers_of_a_sane_size_as_floats():
    cleaned = clean_figures({"a": 1, "b": 2.5, "c": -3.0, "d": 0, "e": MAX_FIGURE, "f": -MAX_FIGURE, "g": 1e-300})
    assert cleaned == {"a": 1.0, "b": 2.5, "c": -3.0, "d": 0.0, "e": MAX_FIGURE, "f": -MAX_FIGURE, "g": 1e-300}
    assert all(type(v) is float for v in cleaned.values())


def test_clean_figures_drops_what_is_not_a_finite_sane_number():
    dirty = {"nan": NAN, "inf": INF, "-inf": -INF, "text": "1.0", "true": True, "false": False, "none": None,
             "list": [1.0], "dict": {"a": 1.0}, "huge": MAX_FIGURE * 10, "-huge": -1e300, "huge_int": 10**19,
             "ok": 0.5}
    assert clean_figures(dirty) == {"ok": 0.5}


def test_clean_figures_drops_an_integer_too_large_for_a_float():
    # math.isfinite(10**400) raises OverflowError: the figure must be dropped like any other absurd one
    assert clean_figures({"big_int": 10**400, "-big_int": -(10**400), "ok": 1}) == {"ok": 1.0}


@pytest.mark.parametrize("where", ["figures", "max_score", "duration_s"])
def test_a_number_too_large_for_a_float_is_dropped_or_refused_when_read(tmp_path, where):
    # JSON integers have no size limit: json.loads reads 1 followed by 400 zeros as an int, and both
    # clean_figures and _number call math.isfinite on it, which raises OverflowError (not a ValueError,
    # so from_json does not turn it into a VerdictError and read_results crashes).
    huge = "1" + "0" * 400
    test = ('{"name": "t", "nodeid": "t", "status": "passed", "visibility": "visible", '
            f'"max_score": {huge if where == "max_score" else 1}, '
            f'"figures": {{"a": {huge if where == "figures" else 1}}}}}')
    path = tmp_path / RESULTS_FILE
    path.write_text(f'{{"challenge": "c", "tests": [{test}], "duration_s": {huge if where == "duration_s" else 0}}}')
    try:
        verdict = read_results(path)
    except VerdictError:
        return
    assert where == "figures", f"a {where} of 1e400 was accepted instead of refused"
    assert verdict.tests[0].figures == {}


@pytest.mark.parametrize("figures", [None, [], [("a", 1.0)], "a=1", 3, NAN], ids=repr)
def test_clean_figures_of_something_that_is_not_a_mapping_is_empty(figures):
    assert clean_figures(figures) == {}


def test_clean_figures_names_are_strings():
    assert clean_figures({1: 2.0}) == {"1": 2.0}


def test_figures_are_cleaned_when_a_record_is_read_back():
    data = record_json(figures={"max_abs_error": NAN, "peak": 1024, "bad": "x", "inf": INF})
    assert TestRecord.from_json(data).figures == {"peak": 1024.0}


# -- writing ---------------------------------------------------------------------------------------------------
def test_write_results_writes_json_without_nan_readable_by_all(tmp_path):
    path = tmp_path / "out" / "deeper" / RESULTS_FILE  # folders are made
    verdict = Verdict.from_json(verdict_json(tests=[record_json(figures={"x": NAN, "y": 2.0})]))
    write_results(path, verdict)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")

    def refuse(constant):
        raise AssertionError(f"{constant} in results.json")

    data = json.loads(text, parse_constant=refuse)
    assert data["tests"][0]["figures"] == {"y": 2.0}
    assert Verdict.from_json(data) == verdict
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_write_results_is_readable_by_all_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        write_results(tmp_path / RESULTS_FILE, sample_verdict())
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / RESULTS_FILE).st_mode) == 0o644


def test_write_results_refuses_non_finite_numbers_rather_than_writing_invalid_json(tmp_path):
    path = tmp_path / RESULTS_FILE
    with pytest.raises(ValueError):
        write_results(path, sample_verdict(duration_s=NAN))  # built directly, so never validated
    assert not path.exists()
    assert list(tmp_path.iterdir()) == [], "no temporary file is left behind"


def test_write_results_goes_through_a_temporary_file_in_the_same_folder(tmp_path, monkeypatch):
    path = tmp_path / RESULTS_FILE
    path.write_text("old\n")
    replaced = []
    real_replace = os.replace

    def spy(source, destination):
        source, destination = os.fspath(source), os.fspath(destination)
        replaced.append((source, destination))
        assert Path(destination).read_text() == "old\n", "the old file stays whole until the new one replaces it"
        assert json.loads(Path(source).read_text())["challenge"] == "ddim-step", "the new file is complete"
        assert stat.S_IMODE(os.stat(source).st_mode) == 0o644, "made readable before it is in place"
        real_replace(source, destination)

    monkeypatch.setattr(verdict_module.os, "replace", spy)
    write_results(path, sample_verdict())
    [(source, destination)] = replaced
    assert destination == str(path)
    assert os.path.dirname(source) == str(tmp_path), "same folder: the rename is atomic"
    assert os.path.basename(source).startswith(f".{RESULTS_FILE}.") and source.endswith(".tmp")
    assert sorted(p.name for p in tmp_path.iterdir()) == [RESULTS_FILE], "no temporary file is left behind"
    assert read_results(path) == sample_verdict()


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / RESULTS_FILE
    write_results(path, sample_verdict())
    before = path.read_bytes()

    def broken(source, destination):
        raise OSError("disk gone")

    monkeypatch.setattr(verdict_module.os, "replace", broken)
    with pytest.raises(OSError, match="disk gone"):
        write_results(path, sample_verdict(challenge="other"))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [RESULTS_FILE]


def test_write_results_replaces_the_previous_file(tmp_path):
    path = tmp_path / RESULTS_FILE
    write_results(path, sample_verdict())
    write_results(path, sample_verdict(challenge="euler-step", tests=[]))
    assert read_results(path) == sample_verdict(challenge="euler-step", tests=[])
    assert sorted(p.name for p in tmp_path.iterdir()) == [RESULTS_FILE]


# -- faults ------------------------------------------------------------------------------------------------------
def raised(kind: str) -> SubmissionRaised:
    return SubmissionRaised({"type": kind, "message": "m", "traceback": "Traceback ..."})


@pytest.mark.parametrize("error, status, reason", [
    (None, Status.PASSED, None),
    (raised("NotImplementedError"), Status.FAILED, Reason.NOT_IMPLEMENTED),
    (raised("ForbiddenAPIError"), Status.FAILED, Reason.FORBIDDEN_API),
    (raised("MemoryError"), Status.FAILED, Reason.OVER_MEMORY),
    (raised("ZeroDivisionError"), Status.FAILED, Reason.RAISED),
    (raised("SolutionImportError"), Status.FAILED, Reason.RAISED),
    (SubmissionRaised({}), Status.FAILED, Reason.RAISED),
    (SubmissionTimedOut("too slow"), Status.FAILED, Reason.TIMED_OUT),
    (SubmissionMemoryExceeded("too big"), Status.FAILED, Reason.OVER_MEMORY),
    (OverRuntimeBudget("3x the reference"), Status.FAILED, Reason.OVER_RUNTIME_BUDGET),
    (WorkerDied("killed by SIGKILL"), Status.FAILED, Reason.CRASHED),
    (MalformedReply("not a frame"), Status.FAILED, Reason.CRASHED),
    (MismatchError("differs"), Status.FAILED, Reason.WRONG_OUTPUT),
    (BadReply("no key 'out'"), Status.FAILED, Reason.WRONG_OUTPUT),
    (SubmissionFault("generic"), Status.FAILED, Reason.WRONG_OUTPUT),
    (AssertionError("assert 1 == 2"), Status.FAILED, Reason.WRONG_OUTPUT),
    (pytest.fail.Exception("pytest.fail in a test"), Status.FAILED, Reason.WRONG_OUTPUT),
    (GraderError("oracle failed"), Status.ERROR, Reason.INFRASTRUCTURE),
    (WorkerStartFailed("no python"), Status.ERROR, Reason.INFRASTRUCTURE),
    (TrustedCodeHung("backstop"), Status.ERROR, Reason.INFRASTRUCTURE),
    (RuntimeError("bug in a test"), Status.ERROR, Reason.INFRASTRUCTURE),
    (KeyError("x"), Status.ERROR, Reason.INFRASTRUCTURE),
    (RecursionError(), Status.ERROR, Reason.INFRASTRUCTURE),
    (MemoryError(), Status.ERROR, Reason.INFRASTRUCTURE),  # in the trusted process: the grader's, not a zero
], ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v))
def test_classify_maps_each_fault_class_to_its_status_and_reason(error, status, reason):
    assert classify(error) == (status, reason)


def test_the_reason_comes_from_the_class_never_from_the_message():
    assert classify(RuntimeError("AssertionError: timed out, not implemented")) == (Status.ERROR,
                                                                                    Reason.INFRASTRUCTURE)
    assert classify(MismatchError("the submission timed out")) == (Status.FAILED, Reason.WRONG_OUTPUT)
    assert classify(SubmissionRaised({"type": "ValueError", "message": "NotImplementedError"}))[1] is Reason.RAISED


def test_submission_raised_names_the_exception_and_keeps_its_message():
    fault = SubmissionRaised({"type": "NotImplementedError", "message": "write it", "traceback": "  line 3\n"})
    assert fault.raised == "NotImplementedError"
    assert str(fault).startswith("the submission raised NotImplementedError: write it")
    assert "line 3" in str(fault) and not str(fault).endswith("\n")
    assert SubmissionRaised({}).raised == "?"


def test_fault_classes_say_whose_fault_it_is():
    for fault in (MismatchError, BadReply, MalformedReply, SubmissionRaised, SubmissionTimedOut,
                  SubmissionMemoryExceeded, OverRuntimeBudget, WorkerDied):
        assert issubclass(fault, SubmissionFault) and issubclass(fault, AssertionError), fault
        assert not issubclass(fault, GraderError), fault
    for fault in (WorkerStartFailed, TrustedCodeHung):
        assert issubclass(fault, GraderError) and not issubclass(fault, AssertionError), fault
    assert issubclass(GraderError, RuntimeError)
    assert set(faults.RAISED_REASONS.values()) <= set(Reason)


def test_every_reason_but_infrastructure_is_some_submission_faults_reason():
    reasons = {cls.reason for cls in (MismatchError, MalformedReply, SubmissionTimedOut, SubmissionMemoryExceeded,
                                      OverRuntimeBudget, WorkerDied)}
    reasons |= {raised(kind).reason for kind in (*faults.RAISED_REASONS, "ValueError")}
    assert reasons == set(Reason) - {Reason.INFRASTRUCTURE}


def test_text_from_a_submission_is_made_readable_for_every_report():
    from pytest_diffchallenge.verdict import readable

    text = readable("lone \udcff surrogate, NUL \x00, escape \x1b[31m, tab\tand\nnewline")
    text.encode("utf-8")  # a lone surrogate could not be written
    assert "\x00" not in text and "\x1b" not in text
    assert "tab\tand\nnewline" in text
