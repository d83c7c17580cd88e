#!/usr/bin/env bash
# Event throughput (parse + reduce) on the recorded event mix, pinned to one core.
#
# Runs `cargo bench --bench event_throughput` (under `taskset -c 0` when
# available) and prints the median events/s of each bench, derived from
# criterion's target/criterion/event_throughput/<bench>/new/estimates.json:
# events/s = events per iteration / median seconds per iteration.
#
# Usage: scripts/bench-events.sh [extra criterion args, e.g. --measurement-time 10]
# Env:   BENCH_CPU=N pins to core N instead of 0.
set -euo pipefail

cd "$(dirname "$0")/.."

EVENTS=$(grep -c '' tests/fixtures/opencode-events-sample.jsonl)
TARGET=200000
CPU=${BENCH_CPU:-0}
BENCHES=(parse_reduce parse reduce)

# Build first (unpinned, it is not measured) so the pinned run only measures.
cargo bench --bench event_throughput --no-run

pin=()
if command -v taskset >/dev/null 2>&1; then
    pin=(taskset -c "$CPU")
    echo "pinned to CPU $CPU with taskset"
else
    echo "taskset not found: running unpinned" >&2
fi

"${pin[@]}" cargo bench --bench event_throughput -- "$@"

median_ns() {
    local file=$1
    if command -v jq >/dev/null 2>&1; then
        jq -r '.median.point_estimate' "$file"
    else
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' "$file"
    fi
}

echo
echo "median events/s over the recorded mix ($EVENTS events per iteration; target >= $TARGET on one core):"
for bench in "${BENCHES[@]}"; do
    file=target/criterion/event_throughput/$bench/new/estimates.json
    if [[ ! -f $file ]]; then
        echo "  $bench: no estimates (filtered out?)"
        continue
    fi
    ns=$(median_ns "$file")
    awk -v b="$bench" -v ns="$ns" -v n="$EVENTS" -v t="$TARGET" 'BEGIN {
        eps = n / (ns / 1e9)
        printf "  %-13s %12.0f events/s  (median %.1f us per iteration, %.0f ns per event)%s\n",
            b, eps, ns / 1e3, ns / n, (b == "parse_reduce" ? (eps >= t ? "  PASS" : "  BELOW TARGET") : "")
    }'
done
