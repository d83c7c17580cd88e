#!/usr/bin/env bash
# Popover benchmark (tests/bench_popover.rs) in release, on a headless
# desktop, against the real server with the mock model: cold and warm open to
# first paint, a 2,000-deltas-per-second stream (lost text, longest frame
# gap), a completed 60 KB answer with 20 code blocks rendered in the page
# (median time to the DOM built, longest frame gap), and the resident
# process's memory around 20 open/close cycles and after the popover exited
# on keep-alive. Prints `POPOVER_BENCH {json}`.
#
# Usage: scripts/bench-popover.sh
# Env:   POPOVER_BENCH_COLD (rounds, default 7), POPOVER_BENCH_WARM (15),
#        POPOVER_BENCH_DELTAS (words streamed, default 10000),
#        POPOVER_BENCH_RENDERS (60 KB renders, default 7).
set -euo pipefail
source "$(dirname "$0")/common.sh"

apt_install "${BUILD_PACKAGES[@]}" "${DESKTOP_TEST_PACKAGES[@]}"
install_opencode_into "$TOOLS/opencode"
cd "$ROOT"
cargo test --release --locked --test bench_popover -- --ignored --nocapture
