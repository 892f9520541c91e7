"""Every challenge in the bank: reference full marks (twice, same verdict), starter zero with a readable
message, and every mutant loses points. This is `diffchallenge verify`, run for each challenge."""

import json

import pytest

from diffchallenge.bank import all_challenges
from diffchallenge.batch import TrustedSessions, usable_cores
from diffchallenge.mutants import load_mutants
from diffchallenge.verify import verify_challenge

CHALLENGES = all_challenges()


@pytest.fixture(scope="module")
def sessions():
    return TrustedSessions()


@pytest.mark.slow
@pytest.mark.parametrize("challenge", CHALLENGES, ids=[c.slug for c in CHALLENGES])
def test_challenge_verifies(challenge, tmp_path, sessions):
    assert len(load_mutants(challenge)) >= 6, "every challenge keeps at least 6 mutants"
    rows = verify_challenge(challenge, tmp_path, sessions, jobs=usable_cores())
    failed = [f"{r['kind']} {r['name']}: {r['score']:g}/{r['max_score']:g}, expected {r['expected']} {r['errors']}"
              for r in rows if not r["ok"]]
    assert not failed, "\n".join(failed)
    starter = json.loads((tmp_path / "starter" / "starter" / "results.json").read_text())
    assert any("raised NotImplementedError: " in t["message"] for t in starter["tests"]), \
        "the starter must fail with its 'not implemented' message"
    if challenge.meta.forbidden:  # some mutant calls a forbidden API and is told so
        told = [r["name"] for r in rows if r["kind"] == "mutant"
                and "forbidden in this challenge" in (tmp_path / "mutant" / r["name"] / "results.json").read_text()]
        assert told, "no mutant exercises the forbidden APIs"
