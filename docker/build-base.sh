#!/usr/bin/env bash
# Build the offline CPU base image (Debian bookworm + Python 3.11) with debootstrap and `docker import`.
# No registry is needed: only a Debian mirror, which apt on this machine already uses.
# Usage: docker/build-base.sh [TAG]   (default diffchallenge-base:bookworm; skipped when the tag exists)
set -euo pipefail
TAG=${1:-diffchallenge-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ -z "${FORCE_REBUILD:-}" ] && docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "base image $TAG already present (FORCE_REBUILD=1 rebuilds it)"
    exit 0
fi
command -v debootstrap >/dev/null || apt-get install -y --no-install-recommends debootstrap
ROOTFS=$(mktemp -d /tmp/diffchallenge-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
# python3-venv brings ensurepip, so the Dockerfile can make a venv with pip without python3-pip's many packages.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$ROOTFS" "$MIRROR"
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/usr/share/doc "$ROOTFS"/usr/share/man
tar -C "$ROOTFS" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    - "$TAG"
echo "built base image $TAG"
