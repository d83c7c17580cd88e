#!/usr/bin/env bash
# Tray footprint benchmark: the resident Nexus daemon with its tray, side by
# side with syncthingtray watching a loopback syncthing, on a headless desktop
# (Xvfb, private bus, xfce4-panel as tray host), in the same run. Prints one
# table (RSS, CPU per idle minute, tray registration time, GTK/WebKit mapped)
# with medians over the idle windows and the RSS ratio, per-thread run time
# and wake-ups (schedstat) of both trays and the panel's own CPU, then checks
# the targets (see tests/bench_tray_footprint.rs and BENCHMARKS.md), the frozen-
# server deadline (tests/watcher_faults.rs) and the event → tray latency
# benchmark (tests/bench_tray_latency.rs); every missed target is named at the end.
#
# Usage: scripts/bench-tray.sh
# Env:   TRAY_BENCH_SECONDS (idle window, default 60), TRAY_BENCH_WINDOWS
#        (default 3), TRAY_BENCH_NO_TRAY=1 (baseline: `daemon --no-tray`).
set -euo pipefail
source "$(dirname "$0")/common.sh"

apt_install "${DESKTOP_TEST_PACKAGES[@]}" "${BENCH_PACKAGES[@]}"
install_opencode_into "$TOOLS/opencode"
cd "$ROOT"
cargo build --release --locked
# Measure the binary as shipped: `cargo test --release` rebuilds
# target/release/opencode-nexus with the dev-dependencies' features unified
# (tokio's test-util, ...), so keep a copy of this one aside first.
bench_bin="$ROOT/target/bench-tray/opencode-nexus"
mkdir -p "$(dirname "$bench_bin")"
cp "$ROOT/target/release/opencode-nexus" "$bench_bin"
export TRAY_BENCH_NEXUS_BINARY="$bench_bin"
# The harness itself need not be optimised (it only samples /proc and polls
# D-Bus): a debug build of the test saves a second release build.
missed=()
cargo test --locked --test bench_tray_footprint -- --ignored --nocapture || missed+=("tray footprint (see TARGET MISSED above)")
# A server frozen at any step of the link is reported within event_timeout + 2 s
# (the fake server, under paused time: exact, and immune to the machine's load).
cargo test --locked --test watcher_faults a_server_frozen_at_any_step -- --nocapture || missed+=("frozen server not reported within event_timeout + 2 s")
cargo test --release --locked --test bench_tray_latency -- --ignored --nocapture || missed+=("tray latency")
if [ ${#missed[@]} -gt 0 ]; then
    printf 'TARGETS MISSED: %s\n' "${missed[@]}"
    exit 1
fi
echo "bench-tray: all targets met"
