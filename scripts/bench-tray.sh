#!/usr/bin/env bash
# Tray footprint benchmark: the resident Nexus daemon with its tray, side by
# side with syncthingtray watching a loopback syncthing, on a headless desktop
# (Xvfb, private bus, xfce4-panel as tray host), in the same run. Prints one
# table (RSS, CPU per idle minute, tray registration time, GTK/WebKit mapped)
# with medians over the idle windows and the RSS ratio, then asserts the
# targets (see tests/tray_footprint.rs and BENCHMARKS.md). Then the
# event → tray latency benchmark (tests/tray_latency.rs).
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
cargo test --release --locked --test tray_footprint -- --ignored --nocapture
cargo test --release --locked --test tray_latency -- --ignored --nocapture
