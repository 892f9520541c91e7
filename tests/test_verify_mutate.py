"""``diffchallenge verify --mutate``: the toy challenge's machine mutants graded by the fork server, and the
command's record and exit code (with a runner that grades instantly)."""

import tomllib

import pytest

from diffchallenge import batch, cli
from diffchallenge.bank import mutation, mutation_record
from diffchallenge.bank.challenges import get_challenge
from diffchallenge.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from pytest_diffchallenge.verdict import Status, TestRecord, Verdict

# The toy reference with a dead line: every mutant of line 2 survives, every mutant of line 3 is killed.
REFERENCE = """\
def scaled_sum(a, b, alpha):
    unused = alpha + 1
    return a + alpha * b
"""


@pytest.fixture
def toy_bank(toy_bank):
    """The toy bank, with a reference that has a line no test reaches (the dead line's mutants survive)."""
    (toy_bank / "solutions" / "toy-challenge" / "solution.py").write_text(REFERENCE)
    return toy_bank


def on_line(mutants, line: int) -> set[str]:
    return {m.id for m in mutants if f"@{line}:" in m.id}


@pytest.mark.slow
def test_the_toy_challenges_mutants_are_graded_and_the_dead_line_survives(toy_bank, tmp_path):
    challenge = get_challenge("toy-challenge")
    mutants = mutation.reference_mutants(challenge)
    assert {m.family for m in mutants} == {"arithmetic", "constant", "dropped-statement"}
    runner = batch.forkserver_runner()
    try:
        graded = mutation.grade_mutants(challenge, mutants, tmp_path / "work", runner, jobs=batch.usable_cores())
    finally:
        runner.stop_all()
    outcomes = {g.mutant.id: g.outcome for g in graded}
    assert {i for i, o in outcomes.items() if o == "survived"} == on_line(mutants, 2)
    assert {i for i, o in outcomes.items() if o == "killed"} == on_line(mutants, 3)
    assert {"ReplaceBinaryOperator_Add_Sub@3:14#1", "ReplaceBinaryOperator_Mul_Add@3:22#0",
            "DropStatement@3:5#1"} <= {i for i, o in outcomes.items() if o == "killed"}
    assert (tmp_path / "work" / "mutant" / "DropStatement_3_5_1" / "results.json").is_file()
    record = mutation.make_record(challenge, graded, None)
    assert record.score == len(on_line(mutants, 3)) / len(mutants)


# -- the command, with a runner that kills every mutant that changes line 3 ---------------------------------------
class FakeRunner:
    def __init__(self):
        self.graded = 0

    def grade(self, challenge, submission, out, options) -> Verdict:
        assert options.stop_at_first_failure
        self.graded += 1
        caught = "    return a + alpha * b\n" not in (submission / "solution.py").read_text()
        test = TestRecord(name="test_small", nodeid="test_public.py::test_small", max_score=2.0, visibility="visible",
                          status=Status.FAILED if caught else Status.PASSED)
        return Verdict(challenge=challenge.slug, title="t", tests=[test], duration_s=0.1)

    def stop_all(self):
        pass


@pytest.fixture
def fake_runner(monkeypatch):
    runner = FakeRunner()
    monkeypatch.setattr(batch, "forkserver_runner", lambda: runner)
    return runner


def run(capsys, *argv) -> tuple[int, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_record_needs_mutate(toy_bank, capsys):
    code, output = run(capsys, "verify", "--record", "toy-challenge")
    assert code == EXIT_USAGE and "pass --mutate too" in output


def test_without_record_the_survivors_are_listed_and_the_command_fails(toy_bank, fake_runner, capsys):
    code, output = run(capsys, "verify", "--mutate", "toy-challenge")
    survivors = on_line(mutation.reference_mutants(get_challenge("toy-challenge")), 2)
    assert code == EXIT_FAILED
    assert fake_runner.graded == len(mutation.reference_mutants(get_challenge("toy-challenge")))
    assert "toy-challenge\tReplaceBinaryOperator_Add_Sub@2:20#0\tline 2: unused = alpha + 1  ->  unused = alpha - 1\t" \
           "NO REASON\n" in output
    assert {line.split("\t")[1] for line in output.splitlines() if line.endswith("\tNO REASON")} == survivors
    assert "challenge\tmutants\tkilled\tsurvivors\tequivalent\terrors\tscore\tseconds\n" \
           "toy-challenge\t22\t13\t9\t0\t0\t59.1%\t" in output
    assert "toy-challenge: 9 survivors with no reason to be equivalent" in output
    assert "toy-challenge 22/22 " in output, "a plain progress line per mutant"
    assert not mutation_record.record_file(get_challenge("toy-challenge")).exists()


def test_record_then_reasons_make_the_command_pass(toy_bank, fake_runner, capsys):
    challenge = get_challenge("toy-challenge")
    survivors = on_line(mutation.reference_mutants(challenge), 2)
    code, output = run(capsys, "verify", "--mutate", "--record", "toy-challenge")
    assert code == EXIT_FAILED and "recorded in" in output
    path = mutation_record.record_file(challenge)
    data = tomllib.loads(path.read_text())
    assert {e["id"] for e in data["equivalent"]} == survivors and {e["reason"] for e in data["equivalent"]} == {""}
    assert data["survived"] == len(survivors) and data["cosmic_ray"] == "8.7.0"
    assert "without a reason" in mutation_record.record_is_current(challenge)

    path.write_text(path.read_text().replace('reason = ""', 'reason = "unused is never read"'))
    assert mutation_record.record_is_current(challenge) is None
    code, output = run(capsys, "verify", "--mutate", "--record", "toy-challenge")
    assert code == EXIT_OK and "toy-challenge\t22\t13\t9\t9\t0\t100.0%\t" in output
    assert {e["reason"] for e in tomllib.loads(path.read_text())["equivalent"]} == {"unused is never read"}
