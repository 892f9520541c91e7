#!/usr/bin/env bash
# Create .venv and install the kit with the versions it was tested with. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}  # first and pinned: an unpinned torch pulls a multi-GB CUDA build

"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check "$TORCH_SPEC" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[docker,nbgrader,ray,reports,dev]" 2>&1 \
    | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import diffchallenge, pytest_diffchallenge, diffusers, torch; print('diffchallenge ready:', 'torch', torch.__version__, 'diffusers', diffusers.__version__)"
