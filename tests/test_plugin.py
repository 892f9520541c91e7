"""The pytest plugin's behaviour, through pytest's own pytester."""

import json
import re
import textwrap

import pytest

METADATA = """
slug = "mini"
title = "Mini"
domain = "efficiency"
difficulty = "easy"
question = "Double a tensor."
points = {points}
edit = ["solution.py"]
"""
PROBES = """
from types import SimpleNamespace
ORACLE = SimpleNamespace(double=lambda x: 2 * x)

def double(solution, x):
    return {"out": solution.double(x)}

def nothing(solution):
    return {}

def dumps(solution, indent):
    import json
    return {"text": json.dumps({"a": 1}, indent=indent)}
"""


@pytest.fixture
def mini(pytester):
    """A one-challenge bank in pytester's folder; returns a maker and a runner that yields the verdict."""

    def make(public: str, hidden: str = "", points: int = 3, solution: str = "def double(x):\n    return 2 * x\n",
             metadata: str = ""):
        challenge = pytester.mkdir("challenges") / "mini"
        challenge.mkdir()
        (challenge / "challenge.toml").write_text(METADATA.format(points=points) + metadata)
        (challenge / "probes.py").write_text(PROBES)
        (challenge / "solution.py").write_text(solution)
        (challenge / "test_public.py").write_text(textwrap.dedent(public))
        secret = pytester.mkdir("solutions") / "mini"
        secret.mkdir()
        if hidden:
            (secret / "test_hidden.py").write_text(textwrap.dedent(hidden))

    def run(*args):
        tests = [str(path) for path in sorted(pytester.path.glob("*/mini/test_*.py"))]
        result = pytester.runpytest_subprocess(*tests, "-p", "no:cacheprovider", "--import-mode=importlib",
                                               "--diffchallenge-results", "results.json", *args)
        return result, json.loads((pytester.path / "results.json").read_text())

    return make, run


def test_points_visibility_and_statuses(mini):
    make, run = mini
    make("""
        import pytest, torch

        @pytest.mark.points(2)
        def test_right(equivalence):
            equivalence.check("double", rtol=0, atol=0, x=torch.arange(4.0))
    """, hidden="""
        import torch

        def test_wrong(submission):
            assert submission.call("double", x=torch.ones(2))["out"].sum() == 5, "wrong on purpose"
    """)
    result, verdict = run()
    assert verdict["score"] == 2 and verdict["max_score"] == 3 and verdict["status"] == "graded"
    right, wrong = verdict["tests"]
    assert (right["status"], right["visibility"], right["score"], right["reason"]) == ("passed", "visible", 2, None)
    assert (wrong["status"], wrong["visibility"], wrong["score"]) == ("failed", "hidden", 0)
    assert wrong["reason"] == "wrong output" and "wrong on purpose" in wrong["message"]
    assert verdict["unfinished"] == []
    result.stdout.fnmatch_lines(["*score: 2 / 3*"])


def test_reasons_come_from_the_fault_class(mini):
    make, run = mini
    make("""
        def test_not_implemented(submission):
            submission.call("double", x=1)

        def test_raised(submission):
            submission.call("double", x="text")
    """, points=2,
        solution="def double(x):\n    if x == 1:\n        raise NotImplementedError('todo')\n    return x / 0\n")
    _, verdict = run()
    assert [(t["status"], t["reason"], t["raised"]) for t in verdict["tests"]] == [
        ("failed", "not implemented", "NotImplementedError"), ("failed", "raised", "TypeError")]


def test_grader_faults_are_errors_not_failures(mini):
    make, run = mini
    make("""
        def test_trusted_code_breaks(submission):
            raise KeyError("a bug in the test itself")

        def test_missing_result_fails(submission):
            submission.call("nothing")["out"]
    """, points=2)
    _, verdict = run()
    broken, missing = verdict["tests"]
    assert broken["status"] == "error" and broken["max_score"] == 1 and broken["reason"] == "infrastructure"
    assert missing["status"] == "failed" and "returned no 'out'" in missing["message"]
    assert verdict["status"] == "error"


def test_points_must_add_up_to_the_metadata(mini):
    make, run = mini
    make("def test_only(submission):\n    pass\n", points=5)
    _, verdict = run()
    assert verdict["status"] == "error"
    assert "the tests add up to 1 points but challenge.toml declares 5" in verdict["errors"][0]


def test_public_only_deselects_hidden_tests(mini):
    make, run = mini
    make("""
        def test_public(submission):
            pass
    """, hidden="""
        import pytest

        @pytest.mark.points(2)
        def test_secret(submission):
            pass
    """)
    _, verdict = run("--public-only")
    assert [t["name"] for t in verdict["tests"]] == ["test_public"]


def test_hidden_seed_depends_on_the_secret(mini, pytester):
    make, run = mini
    make("def test_seed(hidden_seed):\n    print('SEED', hidden_seed)\n", points=1)
    seeds = set()
    for _ in range(2):
        result, _ = run("-s")
        seeds.update(re.findall(r"SEED \d+", result.stdout.str()))
    assert len(seeds) == 2


def test_covers_is_recorded_and_an_unknown_item_is_the_graders_error(mini):
    make, run = mini
    make("""
        import pytest, torch

        @pytest.mark.covers("doubles")
        def test_known(equivalence):
            equivalence.check("double", rtol=0, atol=0, x=torch.arange(4.0))

        @pytest.mark.covers("doubles", "triples")
        def test_unknown(equivalence):
            equivalence.check("double", rtol=0, atol=0, x=torch.arange(4.0))
    """, points=2, metadata='[[contract]]\nid = "doubles"\ntext = "double(x) returns 2 * x"\n')
    _, verdict = run()
    assert [t["covers"] for t in verdict["tests"]] == [["doubles"], ["doubles", "triples"]]
    assert verdict["status"] == "error" and any("covers triples, not in its challenge.toml's contract" in e
                                                for e in verdict["errors"])


def test_trace_oracle_tells_branches_apart(mini):
    make, run = mini
    make("""
        import pytest

        @pytest.mark.parametrize("indent", [None, None, 2])
        def test_dumps(equivalence, indent):
            equivalence.check("dumps", rtol=0, atol=0, indent=indent, oracle=__import__("types").SimpleNamespace())
    """, solution="", metadata='forbidden = ["json.dumps"]\n')
    _, verdict = run("--diffchallenge-trace-oracle")
    digests = [t["figures"]["oracle_lines_digest"] for t in verdict["tests"]]
    assert digests[0] == digests[1] != digests[2], "the same branch gives the same digest, another branch another"
    _, untraced = run()
    assert all("oracle_lines_digest" not in t["figures"] for t in untraced["tests"])


def test_ordinary_tests_are_left_alone(pytester):
    pytester.makepyfile("def test_plain():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "score:" not in result.stdout.str()


def test_in_process_a_forbidden_api_refuses_the_submission_not_the_tests_beside_it(mini, pytester):
    """`--submission solutions/<slug>` holds the hidden tests too: only the solution is candidate code."""
    make, run = mini
    solution = "import json\n\ndef double(x):\n    json.dumps(1)\n    return 2 * x\n"
    make("""
        import torch

        def test_candidate_calls_it(submission):
            submission.call("double", x=torch.ones(1))
    """, hidden="""
        import json

        def test_the_grader_calls_it(submission):
            submission.call("nothing")  # the guard is set once the solution is loaded
            assert json.dumps(1) == "1"
    """, points=2, solution=solution, metadata='forbidden = ["json.dumps"]\n')
    (pytester.path / "solutions" / "mini" / "solution.py").write_text(solution)
    _, verdict = run("--diffchallenge-in-process", "--submission", str(pytester.path / "solutions" / "mini"))
    candidate, grader = verdict["tests"]
    assert candidate["status"] == "failed" and "json.dumps is forbidden" in candidate["message"]
    assert grader["status"] == "passed", grader["message"]
