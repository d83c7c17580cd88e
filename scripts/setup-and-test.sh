#!/usr/bin/env bash
# Sets up everything the test suite needs and runs every test.
#
# System packages, the pinned OpenCode in tools/opencode (project-local, not
# global), then the whole suite: unit tests, the real-server and fault
# integration tests and a one-shot run of the benchmarks (so they keep
# compiling and running; figures come from scripts/bench-*.sh). Ends with one
# line totalling every test binary's results.
set -euo pipefail
source "$(dirname "$0")/common.sh"

apt_install "${BUILD_PACKAGES[@]}" procps "${DESKTOP_TEST_PACKAGES[@]}" "${PACKAGING_TEST_PACKAGES[@]}"
install_opencode_into "$TOOLS/opencode"
install_axe_into "$TOOLS/axe"

cd "$ROOT"
say "building"
cargo build --locked --all-targets
say "running the tests"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked --all-targets --no-fail-fast 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "Total: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
