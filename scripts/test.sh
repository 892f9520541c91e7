#!/usr/bin/env bash
# Set up everything the tests need (virtual environment, Docker engine and grading image), then run them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -f docker/ci-setup.sh ]; then
    bash docker/ci-setup.sh
fi
exec .venv/bin/python -m pytest -ra "$@"
