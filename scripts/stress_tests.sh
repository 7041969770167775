#!/usr/bin/env bash
# The stress check to run before stopping work on the node, its tests or its shutdown (docs/development.md, Stress check):
# the test suite N times on a fresh clone of the current commit while two busy processes load the CPU, then
# M start/stop cycles of psmnet_node with SIGTERM or SIGINT at a random moment (scripts/node_cycles.py).
#
#   bash scripts/stress_tests.sh [-n N] [-m M] [-k] [-- PYTEST_ARGS...]
#
#   -n N  suite runs (default: $STRESS_RUNS or 5); 0 skips them
#   -m M  node start/stop cycles (default: $STRESS_CYCLES or 50); 0 skips them
#   -k    keep the clone and its logs even when everything passed
#   PYTEST_ARGS  what each run passes to pytest (default: nothing, i.e. the whole suite)
#
# The clone is `git clone` of this repository at HEAD (commit first: uncommitted changes are not in it),
# with ../shared linked beside it as in CI. Prints one line per run and a summary; exits 1 on any failure.
set -uo pipefail

runs="${STRESS_RUNS:-5}"
cycles="${STRESS_CYCLES:-50}"
keep=0
while getopts "n:m:k" option; do
    case "$option" in
        n) runs="$OPTARG" ;;
        m) cycles="$OPTARG" ;;
        k) keep=1 ;;
        *) sed -n '2,13p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
pytest_args=("$@")

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
commit="$(git -C "$repo" rev-parse HEAD)"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
    echo "stress_tests: uncommitted changes are not tested (the clone is $commit)" >&2
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/psmnet_stress.XXXXXX")"
clone="$work/psmnet_ros"
git clone -q --no-hardlinks "$repo" "$clone" && git -C "$clone" checkout -q "$commit" || exit 1
if [ -d "$repo/../shared" ]; then
    ln -sfn "$(cd "$repo/../shared" && pwd)" "$work/shared"
else
    echo "stress_tests: no ../shared beside the repository: the tests that need it will skip" >&2
fi
echo "stress_tests: $commit in $clone; $runs suite run(s), $cycles node cycle(s)"
(cd "$clone" && bash scripts/env.sh) > "$work/env.log" 2>&1 || { echo "environment setup failed: $work/env.log"; exit 1; }

hogs=()
stop_hogs() {
    for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${hogs[@]}"; do wait "$pid" 2>/dev/null; done
    hogs=()
}
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT TERM
for _ in 1 2; do
    yes > /dev/null &
    hogs+=("$!")
done

failures=0
summary=()
for ((i = 1; i <= runs; i++)); do
    log="$work/suite_$i.log"
    start=$SECONDS
    (cd "$clone" && timeout 3600 bash scripts/test.sh "${pytest_args[@]}") > "$log" 2>&1
    rc=$?
    result="$(tail -n 1 "$log")"
    line="suite run $i/$runs: exit $rc after $((SECONDS - start)) s: $result"
    if [ "$rc" -ne 0 ]; then
        failures=$((failures + 1))
        line="$line  (log: $log)"
    fi
    echo "$line"
    summary+=("$line")
done

if [ "$cycles" -gt 0 ]; then
    (cd "$clone" && .venv/bin/python scripts/node_cycles.py --cycles "$cycles" --log-dir "$work/node_cycles") \
        | tee "$work/node_cycles.log"
    rc=${PIPESTATUS[0]}
    [ "$rc" -ne 0 ] && failures=$((failures + 1))
    summary+=("$(tail -n 1 "$work/node_cycles.log") (exit $rc)")
fi
stop_hogs

echo "---- stress_tests summary ($commit, two busy processes running) ----"
for line in "${summary[@]}"; do echo "$line"; done
if [ "$failures" -ne 0 ]; then
    echo "FAILED: $failures failing part(s) (a suite run counts one, the node cycles one); logs in $work"
    exit 1
fi
if [ "$keep" -eq 1 ]; then
    echo "passed; logs in $work"
else
    rm -rf "$work"
    echo "passed"
fi
