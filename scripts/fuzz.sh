#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/, cargo-fuzz + libFuzzer) and runs each for a
# bounded number of executions: scripts/fuzz.sh [RUNS] (default 50000 each).
# FUZZ_SECONDS=N runs each target for N seconds instead (the longer run);
# FUZZ_TARGETS="a b" runs only those targets.
#
# Every run has a memory cap (-rss_limit_mb) and a per-input time limit
# (-timeout), so an allocation explosion or a hang is a finding like a crash.
# Prints one line per target (executions, time, findings) and a last line
# "fuzz: …"; exits non-zero on any crash, hang or out-of-memory. A finding is
# kept in fuzz/artifacts/TARGET/; to keep it as a regression test copy it to
# fuzz/regressions/TARGET/ (tests/fuzz_regressions.rs runs those).
#
# This machine has only the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz
# pass its flags, and `-s none` builds without a sanitizer (AddressSanitizer
# needs nightly's sanitizer runtime). Safe Rust cannot corrupt memory; the
# checks in fuzz/checks/ and the limits above are what can fail.
set -euo pipefail
source "$(dirname "$0")/common.sh"

RUNS="${1:-50000}"
SECONDS_EACH="${FUZZ_SECONDS:-}"
RSS_LIMIT_MB=1024
TIMEOUT_SECS=10
MAX_LEN=16384
read -r -a TARGETS <<< "${FUZZ_TARGETS:-sse_events page_protocol ipc_protocol config_toml settings_form}"

install_cargo_fuzz
FUZZ_DIR="$ROOT/fuzz"
cd "$FUZZ_DIR"
export RUSTC_BOOTSTRAP=1

started=$SECONDS
say "building the fuzz targets"
if ! "$CARGO_FUZZ" fuzz build -s none >&2; then
    echo "fuzz: FAILED (the fuzz targets do not build)"
    exit 1
fi
build_secs=$((SECONDS - started))

# The event stream's seeds: every recorded event, as an SSE frame. The first
# two bytes pick the guard's cap (0xff: 4096 bytes) and the chunk sizes.
mkdir -p corpus/sse_events
n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '\377\005data: %s\n\n' "$line" > "corpus/sse_events/recorded-$n"
done < "$ROOT/tests/fixtures/opencode-events-sample.jsonl"

failed=()
total_runs=0
for target in "${TARGETS[@]}"; do
    mkdir -p "corpus/$target" "seeds/$target" "artifacts/$target"
    log="$(mktemp)"
    if [ -n "$SECONDS_EACH" ]; then limit=(-max_total_time="$SECONDS_EACH"); else limit=(-runs="$RUNS"); fi
    dict=()
    if [ -f "dicts/$target.dict" ]; then dict=(-dict="dicts/$target.dict"); fi
    t0=$SECONDS
    status=0
    # Fresh corpus first (new inputs go there), the committed seeds read-only.
    "$CARGO_FUZZ" fuzz run -s none "$target" "corpus/$target" "seeds/$target" -- \
        "${limit[@]}" "${dict[@]}" -rss_limit_mb="$RSS_LIMIT_MB" -timeout="$TIMEOUT_SECS" -max_len="$MAX_LEN" \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    secs=$((SECONDS - t0))
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    runs="${runs:-0}"
    total_runs=$((total_runs + runs))
    finding="$(grep -aEo 'ERROR: libFuzzer: [a-z-]+|ALARM: working on the last Unit for [0-9]+ seconds|panicked at [^ ]+' "$log" | head -n 1 || true)"
    artifact="$(LC_ALL=C sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
    if [ "$status" -ne 0 ] || [ -n "$finding" ]; then
        failed+=("$target")
        grep -av '^WARNING: Failed to find function' "$log" | tail -n 40 >&2
        echo "fuzz target $target: FOUND ${finding:-a failure (exit $status)} after $runs executions in $secs s${artifact:+; input kept in $artifact}"
    else
        echo "fuzz target $target: $runs executions in $secs s, no findings"
    fi
    rm -f "$log"
done

all_secs=$((SECONDS - started))
if [ ${#failed[@]} -eq 0 ]; then
    echo "fuzz: ok (${#TARGETS[@]} targets, $total_runs executions, no findings; ${all_secs} s with a ${build_secs} s build)"
else
    echo "fuzz: FAILED (${failed[*]}: see above; ${#TARGETS[@]} targets, $total_runs executions, ${all_secs} s)"
    exit 1
fi
