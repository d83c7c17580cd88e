#!/usr/bin/env bash
# The remote gateway under load (release build): N pages follow one streaming
# answer from the real `opencode serve` with the mock model while one more
# page never reads; prints event → page latency (median, p99, max, measured
# against a direct subscriber to the server's own event stream) and the
# gateway's and the daemon's memory before, at the peak and after. Then the
# idle footprint with the gateway on and no page connected, beside the
# daemon's (scripts/measure-daemon-idle.sh with REMOTE=1).
#
# Usage: scripts/bench-gateway.sh [runs, default 3]
# Env:   GATEWAY_LOAD_WORDS (default 12000), GATEWAY_LOAD_PAGES (default 20),
#        IDLE_SECONDS (default 60).
set -euo pipefail
source "$(dirname "$0")/common.sh"
RUNS=${1:-3}
install_opencode_into "$TOOLS/opencode"
cd "$ROOT"
export GATEWAY_LOAD_WORDS=${GATEWAY_LOAD_WORDS:-12000} GATEWAY_LOAD_PAGES=${GATEWAY_LOAD_PAGES:-20}
cargo build --release --locked -q
for run in $(seq 1 "$RUNS"); do
    say "load run $run of $RUNS ($GATEWAY_LOAD_PAGES pages, $GATEWAY_LOAD_WORDS deltas)"
    cargo test --release --locked -q --test gateway_load -- --nocapture 2>&1 | grep -E "^gateway load:|panicked|FAILED"
done
say "idle, gateway on, no page connected"
REMOTE=1 NEXUS_BINARY=target/release/opencode-nexus scripts/measure-daemon-idle.sh "${IDLE_SECONDS:-60}"
