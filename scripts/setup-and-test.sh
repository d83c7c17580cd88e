#!/usr/bin/env bash
# Sets up everything the test suite needs and runs every test.
#
# System packages (Chromium and chromedriver among them, for the phone test),
# the pinned OpenCode in tools/opencode, axe-core in tools/axe,
# jsdom and commonmark-spec in tools/ui-tests (the page's unit tests),
# cargo-deb in tools/cargo-deb and cargo-fuzz in tools/cargo-fuzz (project-local,
# not global), then the whole suite: unit tests, the real-server and fault
# integration tests and a one-shot run of the benchmarks (so they keep compiling
# and running; figures come from scripts/bench-*.sh), then the .deb:
# scripts/build-deb.sh builds it and checks its contents, counted as one more
# test; then the fuzzers: scripts/fuzz.sh runs every parser's fuzz target for a
# fixed number of executions, counted as one more test. Ends with a "deb
# package: …" line, a "fuzz: …" line and one line totalling every test
# binary's results, the .deb check and the fuzz run; exits non-zero if any
# failed.
set -euo pipefail
source "$(dirname "$0")/common.sh"

apt_install "${BUILD_PACKAGES[@]}" procps "${DESKTOP_TEST_PACKAGES[@]}" "${BROWSER_TEST_PACKAGES[@]}" "${PACKAGING_TEST_PACKAGES[@]}"
install_opencode_into "$TOOLS/opencode"
install_axe_into "$TOOLS/axe"
install_ui_test_deps_into "$TOOLS/ui-tests"
install_cargo_deb
install_cargo_fuzz

cd "$ROOT"
say "building"
cargo build --locked --all-targets
say "running the tests"
log="$(mktemp)"
deb_log="$(mktemp)"
fuzz_log="$(mktemp)"
trap 'rm -f "$log" "$deb_log" "$fuzz_log"' EXIT
status=0
cargo test --locked --all-targets --no-fail-fast 2>&1 | tee "$log" || status=$?

# After the tests, so their results come first; a failure here fails the run
# even when every test passed.
say "building and checking the .deb"
deb_status=0
checked_step "$ROOT/scripts/build-deb.sh" "$deb_log" "deb package" '^deb check: ' || deb_status=$?

# Every parser's fuzz target, a bounded run (its build included, well under
# four minutes on two cores); a crash, hang or out-of-memory fails the run.
say "fuzzing the parsers"
fuzz_status=0
checked_step "$ROOT/scripts/fuzz.sh" "$fuzz_log" "fuzz" '^fuzz target .*: FOUND' || fuzz_status=$?
deb_ok=$((deb_status == 0))
fuzz_ok=$((fuzz_status == 0))

awk -v deb_ok="$deb_ok" -v fuzz_ok="$fuzz_ok" '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { if (deb_ok) p++; else f++; if (fuzz_ok) p++; else f++; printf "Total: %d passed, %d failed\n", p, f }' "$log"
if [ "$status" -ne 0 ]; then exit "$status"; fi
if [ "$deb_status" -ne 0 ]; then exit "$deb_status"; fi
exit "$fuzz_status"
