#!/bin/sh
# Times `htci run` on a workflow of 50 jobs with 10 `true` steps each
# against a plain shell script that does the same work one job after
# another: a fresh workspace checkout per job and a `bash -e` script file
# per step.
#
# Usage: scripts/bench-runner.sh [HTCI_BINARY]
# Builds the release binary first when no binary is given. Uses
# hyperfine when it is installed, else takes the median of five runs.
set -eu

cd "$(dirname "$0")/.."
htci=${1:-}
if [ -z "$htci" ]; then
    cargo build --release -p ci-runner
    htci=${CARGO_TARGET_DIR:-target}/release/htci
fi
htci=$(realpath "$htci")

work=$(mktemp -d "${TMPDIR:-/tmp}/htci-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
repo=$work/repo
mkdir -p "$repo/.github/workflows" "$work/home"

# The workflow: 50 independent jobs of 10 steps that run `true`.
{
    echo "on: push"
    echo "jobs:"
    job=1
    while [ "$job" -le 50 ]; do
        echo "  job$job:"
        echo "    runs-on: ubuntu-latest"
        echo "    steps:"
        step=1
        while [ "$step" -le 10 ]; do
            echo "      - run: 'true'"
            step=$((step + 1))
        done
        job=$((job + 1))
    done
} > "$repo/.github/workflows/bench.yml"
git -C "$repo" init -q -b main
git -C "$repo" -c user.name=bench -c user.email=bench@example.invalid add -A
git -C "$repo" -c user.name=bench -c user.email=bench@example.invalid commit -qm bench

# The baseline: the same work without htci.
cat > "$work/plain.sh" <<'EOF'
#!/bin/sh
set -eu
repo=$1
out=$(mktemp -d "${TMPDIR:-/tmp}/htci-plain.XXXXXX")
job=1
while [ "$job" -le 50 ]; do
    git clone -q --shared --no-checkout "$repo" "$out/$job"
    git -C "$out/$job" checkout -q --detach HEAD
    step=1
    while [ "$step" -le 10 ]; do
        printf 'true\n' > "$out/$job.step$step.sh"
        bash -e "$out/$job.step$step.sh"
        step=$((step + 1))
    done
    job=$((job + 1))
done
rm -rf "$out"
EOF
chmod +x "$work/plain.sh"

export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_DATA_HOME="$work/home/.local/share"
"$htci" run "$repo" > /dev/null    # creates the runner identity once

if command -v hyperfine > /dev/null; then
    hyperfine --warmup 1 --runs 5 \
        -n "htci run (50 jobs x 10 steps)" "$htci run $repo" \
        -n "plain shell script" "$work/plain.sh $repo"
    exit 0
fi

# Without hyperfine: median wall time of five runs each, in seconds.
median() {
    sort -n | sed -n 3p
}
time_runs() {
    i=0
    while [ "$i" -lt 5 ]; do
        start=$(date +%s.%N)
        "$@" > /dev/null
        end=$(date +%s.%N)
        echo "$end - $start" | bc
        i=$((i + 1))
    done
}
htci_time=$(time_runs "$htci" run "$repo" | median)
plain_time=$(time_runs "$work/plain.sh" "$repo" | median)
echo "htci run:           ${htci_time}s (median of 5)"
echo "plain shell script: ${plain_time}s (median of 5)"
echo "ratio:              $(echo "scale=2; $htci_time / $plain_time" | bc)"
