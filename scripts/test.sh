#!/usr/bin/env bash
# Set up everything the tests need, then run them: the fast tier first (lint, types, unit tests: a
# minute), then the Docker engine and grading image, then the rest of the suite (the largest modules two at a
# time).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
start=$(date +%s)
echo "== fast tier: ruff, mypy, unit tests"
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest -q -p no:cacheprovider tests/unit
echo "== fast tier passed in $(( $(date +%s) - start )) s"
if [ -f docker/ci-setup.sh ]; then
    bash docker/ci-setup.sh
fi
if docker image inspect diffchallenge:toy-cpu >/dev/null 2>&1; then
    export DIFFCHALLENGE_TOY_IMAGE=diffchallenge:toy-cpu  # the hostile corpus under the Docker runner too
fi
if [ $# -gt 0 ]; then  # a selection of tests: one pytest run, in order
    exec .venv/bin/python -m pytest -ra -p no:cacheprovider --ignore=tests/unit "$@"
fi
# The two largest modules, two test processes at once (pytest-xdist): each hostile grading runs in its own
# throwaway view of the machine, and each verify in its own folders. Without root there is no such view (the
# hostile tests then watch the shared /tmp), so one process.
parallel=$([ "$(id -u)" = 0 ] && echo 2 || echo 1)
echo "== the hostile corpus and every challenge verified, $parallel test processes"
first=0
.venv/bin/python -m pytest -ra -p no:cacheprovider -n "$parallel" --dist loadgroup --durations=10 tests/test_hostile.py \
    tests/test_challenges.py || first=$?
echo "== the rest, one test at a time (they watch the machine's processes and /tmp)"
rest=0
.venv/bin/python -m pytest -ra -p no:cacheprovider --durations=10 --ignore=tests/unit --ignore=tests/test_hostile.py \
    --ignore=tests/test_challenges.py || rest=$?
echo "== suite: $(( $(date +%s) - start )) s in all"
exit $(( first ? first : rest ))
