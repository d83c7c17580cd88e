#!/usr/bin/env bash
# Sets up what Nexus needs on a Debian/Ubuntu machine and runs it.
#
# Installs the missing system packages, installs the pinned OpenCode into
# ~/.local (where Nexus looks for it) unless an `opencode` is already on PATH,
# builds a release binary and starts the resident daemon in the foreground.
# Arguments are passed to `opencode-nexus` (e.g. `daemon --no-tray`).
set -euo pipefail
source "$(dirname "$0")/common.sh"

apt_install "${BUILD_PACKAGES[@]}"
if ! command -v opencode >/dev/null 2>&1 && [ ! -x "$HOME/.local/bin/opencode" ] && [ ! -x "$HOME/.opencode/bin/opencode" ]; then
    ensure_npm
    say "installing opencode-ai@$OPENCODE_VERSION into ~/.local"
    npm install -g --prefix "$HOME/.local" --no-audit --no-fund --loglevel=error "opencode-ai@$OPENCODE_VERSION"
fi
cd "$ROOT"
say "building opencode-nexus (release)"
cargo build --release --locked
exec "$ROOT/target/release/opencode-nexus" "$@"
