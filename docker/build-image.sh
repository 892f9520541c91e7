#!/usr/bin/env bash
# Build the grading image offline: the debootstrap base if missing, then `diffchallenge image build --cpu`
# (wheelhouse filled from this machine's pip, cached in ~/.cache/diffchallenge; Docker caches the layers).
# Usage: docker/build-image.sh [extra `image build` options, e.g. --public]
set -euo pipefail
cd "$(dirname "$0")/.."
bash docker/build-base.sh
exec .venv/bin/diffchallenge image build --cpu "$@"
