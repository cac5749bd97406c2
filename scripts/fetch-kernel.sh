#!/usr/bin/env bash
# Fetches Debian's stock kernel (linux-image-amd64) without installing it:
# apt-get download + dpkg -x into .cache/kernel, so VM tests and the demo
# can boot it. Prints the directory. Idempotent.
set -euo pipefail
dest=${1:-"$(cd "$(dirname "$0")/.." && pwd)/.cache/kernel"}
if ls "$dest"/boot/vmlinuz-* >/dev/null 2>&1; then
  echo "$dest"; exit 0
fi
resolve() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
pkg=$(resolve)
if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
  # A fresh machine's package index may be empty: read it once.
  apt-get update -q >/dev/null 2>&1 || true
  pkg=$(resolve)
fi
if [ -z "$pkg" ]; then
  echo "fetch-kernel: cannot resolve linux-image-amd64 (run apt-get update first)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q "$pkg" >&2)
mkdir -p "$dest.tmp"
dpkg -x "$work"/*.deb "$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "$dest"
