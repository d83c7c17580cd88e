#!/usr/bin/env bash
# Sets up everything the test suite needs and runs every test.
#
# System packages, the pinned OpenCode in tools/opencode (project-local, not
# global), then the whole suite: unit tests, the real-server and fault
# integration tests, doc tests and a one-shot run of the benchmarks (so they
# keep compiling and running; figures come from scripts/bench-*.sh).
set -euo pipefail
source "$(dirname "$0")/common.sh"

apt_install "${BUILD_PACKAGES[@]}" procps
install_opencode_into "$TOOLS/opencode"

cd "$ROOT"
say "building"
cargo build --locked --all-targets
say "running the tests"
cargo test --locked --all-targets
cargo test --locked --doc
