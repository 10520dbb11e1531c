#!/usr/bin/env bash
# Runs every check of hashtree-ci: formatting, clippy, all tests as the
# current user (root in CI), the htci run tests again with every step
# sandboxed (HTCI_TEST_SANDBOX=1), the sandbox tests again as the unprivileged
# user htci-test, and the project's own workflow under `htci run --sandbox`
# with its signed result verified. Run scripts/setup.sh once first.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests that run a second time as an ordinary user, as PACKAGE:TEST,
# because a rootless sandbox must hold without root.
unprivileged_tests=(
  ci-runner:sandbox_basic
  ci-runner:sandbox_escape
  ci-runner:run_sandbox
  ci-sandbox:seccomp_filter
  ci-sandbox:seccomp_no_alloc
)
unprivileged_user=htci-test

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test (as $(id -un))"
cargo test --workspace

# The run tests again with --sandbox on every `htci run` they start. Tests
# named host_only_* check host mode itself and are left out.
sandboxed_run_tests=(run_cli run_jobs run_steps run_logs run_store run_hardening attack_user)
step "run tests with every step sandboxed (as $(id -un))"
args=()
for name in "${sandboxed_run_tests[@]}"; do args+=(--test "$name"); done
HTCI_TEST_SANDBOX=1 cargo test -p ci-runner "${args[@]}" -- --skip host_only_

if [[ $(id -u) -eq 0 ]]; then
  step "sandbox tests as $unprivileged_user"
  htci_bin=$PWD/target/debug/htci
  for entry in "${unprivileged_tests[@]}"; do
    package=${entry%%:*} name=${entry#*:}
    binary=$(cargo test -p "$package" --test "$name" --no-run --message-format=json --quiet |
      python3 -c 'import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") and message["target"]["kind"] == ["test"]:
        print(message["executable"])')
    if [[ -z "$binary" ]]; then
      echo "test.sh: cargo built no test binary for $entry" >&2
      exit 1
    fi
    step "$entry as $unprivileged_user"
    su "$unprivileged_user" -s /bin/bash -c "cd '$PWD' && HOME=~$unprivileged_user HTCI_BIN='$htci_bin' '$binary'"
  done
else
  echo "not root: the tests above already ran unprivileged"
fi

step "htci run --sandbox . (the project's own workflow)"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export XDG_CONFIG_HOME=$scratch/config XDG_DATA_HOME=$scratch/data
target/debug/htci run --sandbox .
result=$(find "$XDG_DATA_HOME" -path '*/ci/*' -name result.json -not -path '*/jobs/*' | head -n 1)
if [[ -z "$result" ]]; then
  echo "test.sh: htci run stored no result.json under $XDG_DATA_HOME" >&2
  exit 1
fi
target/debug/htci verify "$result"
