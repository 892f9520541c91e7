#!/usr/bin/env bash
# Set up everything the tests need, then run them: the fast tier first (lint, types, unit tests: a
# minute), then the Docker engine and grading image and Chromium, then the rest of the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
start=$(date +%s)
PYTEST=(.venv/bin/python -m pytest -ra -p no:cacheprovider --durations=10)
# The suite is four pytest runs, each keeping about one core busy: every challenge's verify, the hostile cases
# under the local runner, those under the Docker runner, and the rest (README, "The two commands", has their times
# side by side). The hostile cases under Docker watch the whole machine (its /tmp, /dev/shm, bank, kit, venv and
# containers), so nothing else may write there meanwhile: verify and the local hostile cases (each grading in
# a throwaway view of the machine) get their own TMPDIR, pytest folder and /dev/shm (a mount namespace, as
# root), nobody writes bytecode, and the rest waits. Without root, all four run one after another.
scratch=$(mktemp -d)  # made before anything starts: the hostile cases under Docker list /tmp
trap 'pkill -f -- "--basetemp=$scratch/" || true; rm -rf "$scratch"' EXIT
isolated=false
if [ "$(id -u)" -eq 0 ] && unshare --mount true 2>/dev/null; then
    isolated=true
fi
# run NAME PYTEST-ARGS...: in its own TMPDIR, pytest folder and /dev/shm, output to $scratch/NAME.log
run_isolated() {
    local name=$1
    shift
    mkdir -p "$scratch/$name/tmp"
    TMPDIR="$scratch/$name/tmp" unshare --mount --propagation private \
        sh -c 'mount -t tmpfs tmpfs /dev/shm && exec "$@"' sh \
        "${PYTEST[@]}" --basetemp="$scratch/$name/pytest" "$@" > "$scratch/$name.log" 2>&1
}
verify=0 local_hostile=0 docker_hostile=0 rest=0
export PYTHONDONTWRITEBYTECODE=1
.venv/bin/python -m compileall -q pytest_diffchallenge grader  # every import of the kit reads, none writes
LOCAL_HOSTILE=(-m "not hostile_docker" tests/test_hostile.py)
DOCKER_HOSTILE=(-m hostile_docker tests/test_hostile.py)
REST=(--ignore=tests/unit --ignore=tests/test_challenges.py --ignore=tests/test_hostile.py)
if [ $# -eq 0 ] && $isolated; then  # neither needs Docker nor Chromium: they start beside the fast tier
    DIFFCHALLENGE_VERIFY_JOBS=1 run_isolated verify tests/test_challenges.py &
    verify_pid=$!
    run_isolated local-hostile "${LOCAL_HOSTILE[@]}" &
    local_pid=$!
fi
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
if [ $# -gt 0 ]; then
    "${PYTEST[@]}" --ignore=tests/unit "$@"
    exit
fi
if $isolated; then
    echo "== the hostile cases under Docker (verify and the local hostile cases beside them)"
    "${PYTEST[@]}" "${DOCKER_HOSTILE[@]}" || docker_hostile=$?
    echo "== the rest"
    "${PYTEST[@]}" "${REST[@]}" || rest=$?
    echo "== the hostile cases under the local runner"
    wait "$local_pid" || local_hostile=$?
    cat "$scratch/local-hostile.log"
    echo "== every challenge's verify"
    wait "$verify_pid" || verify=$?
    cat "$scratch/verify.log"
else
    "${PYTEST[@]}" "${REST[@]}" || rest=$?
    "${PYTEST[@]}" "${LOCAL_HOSTILE[@]}" || local_hostile=$?
    "${PYTEST[@]}" tests/test_challenges.py || verify=$?
    "${PYTEST[@]}" "${DOCKER_HOSTILE[@]}" || docker_hostile=$?
fi
echo "== exit codes: verify $verify, hostile local $local_hostile, hostile Docker $docker_hostile, the rest $rest;" \
     "$(( $(date +%s) - start )) s in all"
[ "$verify" -eq 0 ] && [ "$local_hostile" -eq 0 ] && [ "$docker_hostile" -eq 0 ] && [ "$rest" -eq 0 ]
