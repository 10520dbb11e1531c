#!/usr/bin/env bash
# Installs what htci and its tests need on a fresh Debian or Ubuntu machine:
# git, bash and python3 for workflow steps, a C compiler for the sandbox
# escape suite, bubblewrap and hyperfine for the benchmarks, passt for the
# sandbox's user-mode network, and the unprivileged user `htci-test` that
# the sandbox tests also run as. Run it as root; it is safe to run again.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "setup.sh: run as root (it installs packages and creates the user htci-test)" >&2
  exit 2
fi

packages=(git bash python3 gcc libc6-dev procps iproute2 bubblewrap passt hyperfine)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! id htci-test >/dev/null 2>&1; then
  echo "setup.sh: creating the unprivileged test user htci-test"
  useradd --create-home --shell /bin/bash htci-test
fi

# The unprivileged tests read the checkout and its target/ folder; grant
# traversal (not listing) on the folders above it when they are closed.
dir=$(cd "$(dirname "$0")/.." && pwd)
while [[ "$dir" != "/" ]]; do
  if ! su htci-test -c "test -x '$dir'" 2>/dev/null; then
    echo "setup.sh: allowing htci-test to traverse $dir (chmod o+x)"
    chmod o+x "$dir"
  fi
  dir=$(dirname "$dir")
done

if ! su htci-test -c 'unshare --user --map-root-user true' 2>/dev/null; then
  echo "setup.sh: this host forbids unprivileged user namespaces; see README (Sandbox requirements)" >&2
  exit 1
fi
echo "setup.sh: ready"
