#!/usr/bin/env bash
# make demo: silo's main job, offline, on a fresh Debian machine.
#
# Builds a small OCI image from Debian's static busybox, loads it into a
# throwaway silo home with `silo image pull oci-layout:DIR`, makes a
# project, and runs a command in the project's sandbox that shows the
# isolation: the host's secrets (a ~/.ssh key, AWS_SECRET_ACCESS_KEY) are
# not there, /workspace is the project, silo.toml is read-only, nothing but
# the sandbox's own processes, no network.
#
# Environment: SILO_BACKEND picks the backend (default: silo's choice);
# SILO_DEMO_DIR keeps the demo's files there instead of a temporary dir.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
silo="$repo/silo"

say() { printf '\033[1m%s\033[0m\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# What the demo needs, installed when we can (root with apt), else named.
need_pkgs=()
command -v bwrap >/dev/null || need_pkgs+=(bubblewrap)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "Installing ${need_pkgs[*]} (apt-get)…"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null ||
      die "could not install ${need_pkgs[*]}: run apt-get update, or install them by hand"
  else
    die "missing: ${need_pkgs[*]}; install them with: sudo apt-get install ${need_pkgs[*]}"
  fi
fi
[ -x "$silo" ] || die "no ./silo: run make build (make demo does it)"

dir=${SILO_DEMO_DIR:-$(mktemp -d /tmp/silo-demo.XXXXXX)}
mkdir -p "$dir"
if [ -z "${SILO_DEMO_DIR:-}" ]; then trap 'rm -rf "$dir"' EXIT; fi
export SILO_HOME="$dir/silo-home"

say "1. Building a busybox image from Debian's busybox-static (offline)…"
go run ./scripts/mkbusybox "$dir/busybox-oci"

say "2. Loading it into the store: silo image pull oci-layout:$dir/busybox-oci"
"$silo" image pull "oci-layout:$dir/busybox-oci"

say "3. A project, a tool, and a host with secrets"
mkdir -p "$dir/project/src" "$dir/home/.ssh"
cat >"$SILO_HOME/config.toml" <<EOF
[tool.busybox]
image = "oci-layout:$dir/busybox-oci"
shims = ["sh"]
EOF
printf 'tools = ["busybox"]\n' >"$dir/project/silo.toml"
printf 'print("hello from the project")\n' >"$dir/project/src/main.py"
printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n' >"$dir/home/.ssh/id_rsa"
export HOME="$dir/home" AWS_SECRET_ACCESS_KEY=host-secret-do-not-leak
echo "   host: $HOME/.ssh/id_rsa exists; AWS_SECRET_ACCESS_KEY is set in the host's environment"

say "4. silo exec busybox … (inside the sandbox):"
cd "$dir/project/src"
"$silo" exec --timing busybox sh -c '
check() { if eval "$2" >/dev/null 2>&1; then echo "   [FAIL] $1"; fails=$((fails+1)); else echo "   [ok]   $1"; fi; }
fails=0
echo "   whoami: $(id -un) in $(pwd), on $(hostname)"
echo "   /workspace holds: $(cd /workspace && find . -type f -size +0 | sort | tr "\n" " ")"
check "no ~/.ssh inside"                         "ls ~/.ssh/id_rsa || ls /root/.ssh"
check "no AWS_SECRET_ACCESS_KEY in the env"      "env | grep -q AWS_SECRET"
check "silo.toml is read-only"                   "echo x >> /workspace/silo.toml"
check "no .git/hooks can be planted"             "mkdir -p /workspace/.git/hooks && echo evil > /workspace/.git/hooks/post-checkout"
check "only the sandbox'"'"'s processes"         "test \$(ls -d /proc/[0-9]* | wc -l) -gt 10"
check "no network"                               "nc -w 2 1.1.1.1 80 </dev/null"
echo made-in-sandbox > /workspace/out.txt && echo "   wrote /workspace/out.txt"
exit $fails
'
say "5. Back on the host: $(cat "$dir/project/out.txt") is in $dir/project/out.txt, owned by $(stat -c %U "$dir/project/out.txt")"
say "The demo passed: the sandbox saw the project and nothing else."
