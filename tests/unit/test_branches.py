"""The oracle's line trace (``branches``): which files it watches, and what it records."""

import json
import sys

from pytest_diffchallenge import branches


def test_the_files_that_define_the_forbidden_apis_are_watched_and_c_functions_skipped():
    assert branches.watched_files(("json.dumps", "math.sqrt")) == frozenset({json.__file__})


def test_lines_run_in_a_watched_file_are_recorded_and_others_not():
    with branches.lines_reached(frozenset({json.__file__})) as reached:
        json.dumps({"a": 1})
        sorted([2, 1])
    assert reached and {file for file, _ in reached} == {json.__file__}


def test_nothing_watched_means_no_trace_function_at_all():
    before = sys.gettrace()
    with branches.lines_reached(frozenset()) as reached:
        inside = sys.gettrace()
        json.dumps({"a": 1})
    assert inside is before and reached == set()
    assert branches.digest(reached) == branches.digest(set()) != branches.digest({("f.py", 1)})
