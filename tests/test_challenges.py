"""Every challenge in the bank: reference full marks (under 5 secrets, same verdict), its contract shown and
covered, starter zero with a readable message, at least 6 mutants and every one loses points, one of them to a
forbidden API where there are any. This is `diffchallenge verify`, run for each challenge."""

import os
import tempfile

import pytest

from diffchallenge.bank.challenges import all_challenges
from diffchallenge.bank.verify import verify_challenge
from diffchallenge.batch import forkserver_runner, usable_cores
from pytest_diffchallenge.verdict import RESULTS_FILE, Reason, read_results

CHALLENGES = all_challenges()
# Under pytest-xdist (scripts/test.sh), the cores are shared with the other test processes.
JOBS = max(1, usable_cores() // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    # The fork server's folders in a temporary folder of ours: the hostile tests that may run beside these
    # watch the machine's /tmp.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(tmp_path_factory.mktemp("forkserver")))
        patch.setattr(tempfile, "tempdir", None)
        runner = forkserver_runner()
        yield runner
        runner.stop_all()


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
