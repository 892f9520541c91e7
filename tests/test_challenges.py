"""Every challenge in the bank: reference full marks (under 5 secrets, same verdict), its contract shown and
covered, starter zero with a readable message, at least 6 mutants and every one loses points, one of them to a
forbidden API where there are any. This is `diffchallenge verify`, run for each challenge."""

import os

import pytest

from diffchallenge.bank.challenges import all_challenges
from diffchallenge.bank.verify import verify_challenge
from diffchallenge.batch import forkserver_runner, usable_cores
from pytest_diffchallenge.verdict import RESULTS_FILE, Reason, read_results

CHALLENGES = all_challenges()
# scripts/test.sh runs this file beside the rest of the suite, one grading at a time: each keeps a core busy.
JOBS = int(os.environ.get("DIFFCHALLENGE_VERIFY_JOBS", 0)) or usable_cores()


@pytest.fixture(scope="module")
def runner():
    return forkserver_runner()


@pytest.mark.slow
@pytest.mark.parametrize("challenge", CHALLENGES, ids=[c.slug for c in CHALLENGES])
def test_challenge_verifies(challenge, tmp_path, runner):
    rows = verify_challenge(challenge, tmp_path, runner, jobs=JOBS)
    failed = [f"{r.kind} {r.name}: {r.score:g}/{r.max_score:g}, expected {r.expected} {r.errors}"
              for r in rows if not r.ok]
    assert not failed, "\n".join(failed)
    starter = read_results(tmp_path / "starter" / "starter" / RESULTS_FILE)
    assert all(t.reason is Reason.NOT_IMPLEMENTED for t in starter.tests), \
        "the starter must fail every test with its NotImplementedError"
    assert any("raised NotImplementedError: " in t.message for t in starter.tests), \
        "the starter's 'not implemented' message must reach the report"
