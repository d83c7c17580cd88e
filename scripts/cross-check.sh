#!/usr/bin/env bash
# Checks that the crate builds and lints for macOS (aarch64-apple-darwin) and
# Windows (x86_64-pc-windows-gnu) from this Linux machine, so the code for
# those systems cannot rot unseen: for each target,
#     cargo clippy --locked --all-targets --target T -- -D warnings
# Clippy runs the compiler's whole type check (everything `cargo check` does)
# before its lints, so one run per target covers both. Nothing is linked and
# nothing runs: what has been run on a real Mac or Windows machine is in the
# README's platform section.
#
# Prints one line per target and a last line "cross check: …"; exits non-zero
# if a target fails, or if the targets or C cross tools cannot be installed
# (said as BLOCKED, never skipped silently).
set -euo pipefail
source "$(dirname "$0")/common.sh"

apt_install "${BUILD_PACKAGES[@]}" "${CROSS_PACKAGES[@]}" || {
    echo "cross check: BLOCKED (cannot install ${CROSS_PACKAGES[*]})"
    exit 1
}
install_cross_targets || {
    echo "cross check: BLOCKED (the Rust targets ${CROSS_TARGETS[*]} cannot be installed)"
    exit 1
}
cd "$ROOT"

# The environment the dependencies' build scripts need, for this check only:
# - CC_aarch64_apple_darwin=clang: objc2-exception-helper compiles a small
#   Objective-C file that includes no SDK header; Debian's clang can.
# - DOCS_RS=1: mac-notification-sys compiles Objective-C against Apple's SDK,
#   which cannot be had here; it skips that when DOCS_RS is set, its switch
#   for builds that are never linked. Right for a check, and NEVER for a
#   release build: the binary would lack its notification code.
# Windows needs no variable: cc finds x86_64-w64-mingw32-gcc by the target.
# The usual target dir: each target builds under target/TRIPLE, and the
# proc-macros, built for this machine, are shared with the Linux build.
failed=0
summary=()
for target in "${CROSS_TARGETS[@]}"; do
    say "clippy for $target"
    started=$SECONDS
    env=()
    case "$target" in
        *-apple-darwin) env=(CC_aarch64_apple_darwin=clang DOCS_RS=1) ;;
    esac
    status=0
    env "${env[@]}" cargo clippy --locked --all-targets --target "$target" -- -D warnings || status=$?
    took=$((SECONDS - started))
    if [ "$status" -eq 0 ]; then
        echo "cross check $target: ok (${took} s)"
        summary+=("$target ok")
    else
        echo "cross check $target: FAILED (clippy exited $status after ${took} s; see its output above)"
        summary+=("$target FAILED")
        failed=1
    fi
done
if [ "$failed" -eq 0 ]; then
    echo "cross check: ok (${summary[*]})"
else
    echo "cross check: FAILED ($(IFS=,; echo "${summary[*]}"))"
    exit 1
fi
