#!/usr/bin/env bash
# CI: install Docker, start dockerd, build the offline CPU base and the grading image.
# Everything already built on this machine is reused: the base image is kept, the wheelhouse is cached in
# ~/.cache/diffchallenge and Docker's layer cache keeps the dependency layers, so a rerun after a bank or
# kit edit rebuilds only the small last layers. Failing to start Docker is not fatal here: the engine
# tests then skip and say why.
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=${DOCKERD_LOG:-/tmp/dockerd.log}

engine_up() { docker info >/dev/null 2>&1; }

if ! command -v dockerd >/dev/null; then
    echo "ci-setup: installing docker.io"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io >/tmp/apt-docker.log 2>&1 \
        || { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io >/tmp/apt-docker.log 2>&1; } \
        || { echo "ci-setup: could not install docker.io (see /tmp/apt-docker.log)"; exit 0; }
fi
if ! engine_up; then
    echo "ci-setup: starting dockerd (log: $LOG)"
    nohup dockerd >"$LOG" 2>&1 &
    for _ in $(seq 60); do engine_up && break; sleep 1; done
    if ! engine_up; then  # inside some containers only vfs storage and no iptables work
        kill "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null; sleep 2
        nohup dockerd --storage-driver vfs --iptables=false >"$LOG" 2>&1 &
        for _ in $(seq 60); do engine_up && break; sleep 1; done
    fi
fi
engine_up || { echo "ci-setup: the Docker engine did not start (see $LOG); engine tests will skip"; exit 0; }
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >/dev/null
start=$(date +%s)
bash docker/build-image.sh >/tmp/diffchallenge-image-build.log 2>&1 \
    || { echo "ci-setup: building the grading image failed:"; tail -30 /tmp/diffchallenge-image-build.log; exit 1; }
# The toy bank's image, for the hostile corpus under the Docker runner (tests/test_hostile.py): seconds, cached.
DIFFCHALLENGE_BANK="$PWD/tests/toy-bank" .venv/bin/diffchallenge image build --cpu --tag diffchallenge:toy-cpu \
    >/tmp/diffchallenge-toy-image-build.log 2>&1 \
    || { echo "ci-setup: building the toy image failed:"; tail -30 /tmp/diffchallenge-toy-image-build.log; exit 1; }
# Earlier builds' final images (superseded tags) go; the unlabelled dependency stage stays as the cache.
docker image prune -f --filter label=org.diffchallenge.kit-version >/dev/null
echo "ci-setup: grading image ready in $(( $(date +%s) - start )) s: $(docker image inspect diffchallenge:cpu --format '{{.Id}} {{.Size}} bytes')"
