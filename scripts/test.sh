#!/usr/bin/env bash
# Set up everything the tests need, then run them: the fast tier first (lint, types, unit tests: a
# minute), then the Docker engine and grading image and Chromium, then the rest of the suite.
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
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
    echo "== installing chromium, for the HTML reports' browser tests"
    install_chromium() { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }
    { install_chromium || { apt-get update && install_chromium; }; } >/tmp/apt-chromium.log 2>&1 \
        || echo "chromium could not be installed (see /tmp/apt-chromium.log): the browser tests will skip"
fi
if docker image inspect diffchallenge:toy-cpu >/dev/null 2>&1; then
    export DIFFCHALLENGE_TOY_IMAGE=diffchallenge:toy-cpu  # the hostile corpus under the Docker runner too
fi
PYTEST=(.venv/bin/python -m pytest -ra -p no:cacheprovider --durations=10)
if [ $# -gt 0 ]; then
    exec "${PYTEST[@]}" --ignore=tests/unit "$@"
fi
# Every challenge's verify (gradings on both cores, ~30 min at one at a time) runs beside the rest, which keeps
# about one core busy (hostile cases wait on time-outs and containers). Neither may see the other's files: verify
# gets a temporary folder of its own, no bytecode written, and its own /dev/shm (multiprocessing's semaphores live
# there), which needs a mount namespace: as root; elsewhere it runs after the rest, on every core. The hostile
# cases under Docker watch the whole machine (its /tmp, /dev/shm, bank and containers) and run alone, last.
rest=0 verify=0 alone=0
if [ "$(id -u)" -eq 0 ] && unshare --mount true 2>/dev/null; then
    verify_tmp=$(mktemp -d)
    trap 'rm -rf "$verify_tmp"' EXIT
    mkdir "$verify_tmp/tmp"
    TMPDIR="$verify_tmp/tmp" DIFFCHALLENGE_VERIFY_JOBS=1 PYTHONDONTWRITEBYTECODE=1 \
        unshare --mount --propagation private sh -c 'mount -t tmpfs tmpfs /dev/shm && exec "$@"' sh \
        "${PYTEST[@]}" --basetemp="$verify_tmp/pytest" tests/test_challenges.py > "$verify_tmp/log" 2>&1 &
    verify_pid=$!
    "${PYTEST[@]}" -m "not hostile_docker" --ignore=tests/unit --ignore=tests/test_challenges.py || rest=$?
    echo "== waiting for every challenge's verify"
    wait "$verify_pid" || verify=$?
    cat "$verify_tmp/log"
else
    "${PYTEST[@]}" -m "not hostile_docker" --ignore=tests/unit --ignore=tests/test_challenges.py || rest=$?
    "${PYTEST[@]}" tests/test_challenges.py || verify=$?
fi
echo "== the hostile cases under Docker, alone"
"${PYTEST[@]}" -m hostile_docker tests/test_hostile.py || alone=$?
echo "== the rest: exit $rest; every challenge's verify: exit $verify; the hostile cases under Docker: exit $alone;" \
     "$(( $(date +%s) - start )) s in all"
[ "$rest" -eq 0 ] && [ "$verify" -eq 0 ] && [ "$alone" -eq 0 ]
