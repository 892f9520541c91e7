#!/usr/bin/env bash
# Set up everything the tests need, then run them: the fast tier first (lint, types, unit tests: a
# minute), then the Docker engine and grading image, then the rest of the suite.
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
exec .venv/bin/python -m pytest -ra -p no:cacheprovider --durations=10 --ignore=tests/unit "$@"
