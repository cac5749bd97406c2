#!/usr/bin/env bash
# Installs the Debian packages silo's tests use, when any is missing: with
# apt-get as root, else it prints the command to run. `make test` and
# .ci/run both call it, so the list lives here only.
set -euo pipefail

# command → package that provides it
declare -A need=(
  [qemu-system-x86_64]=qemu-system-x86 [qemu-img]=qemu-utils [bwrap]=bubblewrap
  [mkfs.ext4]=e2fsprogs [debugfs]=e2fsprogs [busybox]=busybox-static [cpio]=cpio
  [skopeo]=skopeo [docker-registry]=docker-registry [b3sum]=b3sum
  [zstd]=zstd [xz]=xz-utils [git]=git [make]=make
  [ssh-agent]=openssh-client [ssh-add]=openssh-client [ssh-keygen]=openssh-client
  [pylsp]=python3-pylsp [dpkg-query]=dpkg
  [newuidmap]=uidmap [newgidmap]=uidmap [usermod]=passwd
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ -x /bin/busybox ] || missing+=(busybox-static)
# silo lsp's test copies Debian's python-lsp-server, with its pyflakes
# plugin and the setuptools its plugins need, into a test image.
for m in pyflakes setuptools; do
  [ -d /usr/lib/python3/dist-packages/$m ] || missing+=(python3-$m)
done
[ ${#missing[@]} -eq 0 ] && exit 0
pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" != 0 ]; then
  echo "missing packages: $pkgs" >&2
  echo "install them with: sudo apt-get install $pkgs" >&2
  exit 1
fi
echo "installing $pkgs (apt-get)…" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $pkgs ca-certificates >/dev/null
