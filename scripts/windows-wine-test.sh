#!/usr/bin/env bash
# Cross-builds Nexus's Windows binaries (x86_64-pc-windows-gnu, linked with
# Debian's MinGW-w64) and runs them under Debian's Wine:
# tests/windows_under_wine.rs, the CLI's contract, a broken config, the Run
# key, the tray icon in Wine's notification area (on a private Xvfb), and the
# daemon answering over its named pipe while it watches a real opencode
# server on this machine.
#
# The binaries are put in a folder whose name has a space (like
# "Program Files"), with what they need beside them:
# - WebView2Loader.dll, which wry's Windows build loads at start (MinGW builds
#   link it as a DLL; a Windows release ships it beside the programs too);
# - tests/wine/bcryptprimitives.c built as a DLL: Wine 8.0 lacks the
#   ProcessPrng function Rust's standard library uses on Windows 10 and later.
#   Test-only, never shipped.
#
# Prints a last line "windows under wine: ok …" or "…: FAILED …"; exits
# non-zero on a failure, or when the tools cannot be installed (BLOCKED).
set -euo pipefail
source "$(dirname "$0")/common.sh"

target=x86_64-pc-windows-gnu
apt_install "${BUILD_PACKAGES[@]}" procps "${DESKTOP_TEST_PACKAGES[@]}" "${CROSS_PACKAGES[@]}" "${WINE_PACKAGES[@]}" || {
    echo "windows under wine: BLOCKED (cannot install ${CROSS_PACKAGES[*]} ${WINE_PACKAGES[*]})"
    exit 1
}
install_cross_targets || {
    echo "windows under wine: BLOCKED (the Rust target $target cannot be installed)"
    exit 1
}
install_opencode_into "$TOOLS/opencode"
cd "$ROOT"

say "building the Windows binaries"
cargo build --locked --target "$target" --bins

bin_dir="$ROOT/target/wine-test/Nexus Test"
rm -rf "$bin_dir"
mkdir -p "$bin_dir"
cp "target/$target/debug/opencode-nexus.exe" "target/$target/debug/opencode-nexus-popover.exe" "target/$target/debug/opencode-nexus-gateway.exe" "$bin_dir/"
loader="$(ls -t target/$target/debug/build/webview2-com-sys-*/out/x64/WebView2Loader.dll | head -n 1)"
cp "$loader" "$bin_dir/"
x86_64-w64-mingw32-gcc -shared -O2 -o "$bin_dir/bcryptprimitives.dll" \
    tests/wine/bcryptprimitives.c tests/wine/bcryptprimitives.def -ladvapi32

say "running the Windows binaries under $(/usr/lib/wine/wine64 --version)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
NEXUS_WINE_BIN_DIR="$bin_dir" cargo test --locked --test windows_under_wine -- --ignored 2>&1 | tee "$log" || status=$?
result="$(grep '^test result:' "$log" | tail -n 1 || true)"
if [ "$status" -eq 0 ] && [ -n "$result" ]; then
    echo "windows under wine: ok (${result#test result: })"
else
    echo "windows under wine: FAILED (${result:-the tests did not run}; see above)"
    exit 1
fi
