#!/bin/sh
# Times `htci sandbox -- /bin/true` against bubblewrap with comparable
# isolation and against a bare /bin/true, in one hyperfine run.
#
# Usage: scripts/bench-sandbox.sh [HTCI_BINARY [BASELINE_BINARY]]
# Needs hyperfine, bwrap and python3 (Debian packages hyperfine,
# bubblewrap, python3). Builds the release binary first when no binary is
# given. A second binary (an older build, say) adds a row for it,
# measured in the same run so that both see the same machine load.
#
# A second part gives bwrap the same seccomp filters as htci's default
# policy, which needs descriptors that hyperfine cannot open without a
# shell, so scripts/bench-alternating.py times it, starting the commands
# in turn. Run the script as the user the sandbox is for: as root, htci
# enforces the pids limit with a cgroup, which costs more than the
# RLIMIT_NPROC an unprivileged user gets.
set -eu

cd "$(dirname "$0")/.."
htci=${1:-}
baseline=${2:-}
target_dir=${CARGO_TARGET_DIR:-target}
if [ -z "$htci" ]; then
    cargo build --release -p ci-runner
    htci=$target_dir/release/htci
fi
# An unprivileged user without a Rust toolchain uses the example that
# was built along with the release binary.
if command -v cargo >/dev/null; then
    cargo build --release -p ci-sandbox --example seccomp_bpf
fi
for tool in hyperfine bwrap python3; do
    command -v "$tool" >/dev/null || { echo "bench-sandbox: $tool is not installed" >&2; exit 1; }
done

# bubblewrap with the isolation htci sandbox gives by default: every
# namespace, the host's /usr (and its merged-/usr links) read-only, fresh
# /proc and /dev, a /tmp tmpfs, a new session, no capabilities, and the
# sandbox ends with its parent.
bwrap_cmd="bwrap --unshare-all --ro-bind /usr /usr"
for link in bin sbin lib lib64; do
    if [ -L "/$link" ]; then
        bwrap_cmd="$bwrap_cmd --symlink $(readlink "/$link") /$link"
    elif [ -d "/$link" ]; then
        bwrap_cmd="$bwrap_cmd --ro-bind /$link /$link"
    fi
done
bwrap_cmd="$bwrap_cmd --ro-bind /etc /etc --proc /proc --dev /dev --tmpfs /tmp"
bwrap_cmd="$bwrap_cmd --die-with-parent --new-session --cap-drop ALL /bin/true"

# bwrap runs without seccomp here. htci always installs a filter, so it
# gets the smallest policy (one rule) for the comparison, and the default
# policy in a separate row.
minimal_policy=scripts/bench-minimal-seccomp.json

set -- -n "bare /bin/true" "/bin/true" \
    -n "bwrap" "$bwrap_cmd" \
    -n "htci sandbox, minimal seccomp policy" "$htci sandbox --policy $minimal_policy -- /bin/true" \
    -n "htci sandbox, default seccomp policy" "$htci sandbox -- /bin/true"
if [ -n "$baseline" ]; then
    set -- "$@" -n "baseline htci sandbox, default seccomp policy" "$baseline sandbox -- /bin/true"
fi

echo "bench-sandbox: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "bench-sandbox: before: $(uptime)"
hyperfine -N --warmup 20 --runs "${BENCH_RUNS:-200}" \
    --export-markdown "${BENCH_MARKDOWN:-/dev/null}" "$@"
echo "bench-sandbox: after hyperfine: $(uptime)"

# The same filters for bwrap: guard, deny and enosys, in htci's order.
filters=$(mktemp -d)
trap 'rm -rf "$filters"' EXIT
"$target_dir/release/examples/seccomp_bpf" default "$filters"
count=$(find "$filters" -name '*.bpf' | wc -l)
bwrap_seccomp=${bwrap_cmd% /bin/true}
fds=
i=0
while [ "$i" -lt "$count" ]; do
    bwrap_seccomp="$bwrap_seccomp --add-seccomp-fd $((10 + i))"
    fds="$fds $((10 + i))<$filters/$i.bpf"
    i=$((i + 1))
done
bwrap_seccomp="$bwrap_seccomp /bin/true$fds"

echo "bench-sandbox: alternating starts, ${BENCH_ALTERNATING_RUNS:-400} rounds"
# shellcheck disable=SC2086 # the commands are split into words on purpose
python3 scripts/bench-alternating.py "${BENCH_ALTERNATING_RUNS:-400}" \
    "$htci" sandbox -- /bin/true ::: \
    $bwrap_seccomp ::: \
    $bwrap_cmd ::: \
    "$htci" sandbox --policy "$minimal_policy" -- /bin/true
echo "bench-sandbox: after: $(uptime)"
