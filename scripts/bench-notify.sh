#!/usr/bin/env bash
# Event → desktop notification latency (target ≤ 150 ms): a fake server pushes
# permission requests to Nexus in attach mode; a notification-server double on a
# private bus timestamps each Notify. Prints the median and worst of 20.
set -euo pipefail
source "$(dirname "$0")/common.sh"
apt_install "${BUILD_PACKAGES[@]}" "${DESKTOP_TEST_PACKAGES[@]}"
cd "$ROOT"
cargo test --release --locked --test bench_notify_latency -- --ignored --nocapture 2>&1 | grep -E "latency|test result"
