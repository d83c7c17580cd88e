#!/usr/bin/env bash
# Idle footprint of the resident daemon (release build) with a managed,
# connected and idle server: RSS and CPU time per idle minute.
#
# Usage: scripts/measure-daemon-idle.sh [seconds, default 60]
# Env:   NEXUS_BINARY=PATH measures that binary (e.g. a build of an older
#        commit) instead of building target/release/opencode-nexus.
# Runs in a throwaway HOME/XDG tree; needs the pinned opencode in tools/opencode.
set -euo pipefail
source "$(dirname "$0")/common.sh"
SECONDS_IDLE=${1:-60}

install_opencode_into "$TOOLS/opencode"
cd "$ROOT"
if [ -n "${NEXUS_BINARY:-}" ]; then
    bin="$(realpath "$NEXUS_BINARY")"
else
    cargo build --release --locked -q
    bin="$ROOT/target/release/opencode-nexus"
fi

tmp="$(mktemp -d)"
mkdir -p "$tmp"/{home,config,state,data,cache,run}
chmod 700 "$tmp/run"
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" XDG_STATE_HOME="$tmp/state" \
    XDG_DATA_HOME="$tmp/data" XDG_CACHE_HOME="$tmp/cache" XDG_RUNTIME_DIR="$tmp/run" \
    PATH="$TOOLS/opencode/node_modules/.bin:$PATH" OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_AUTOUPDATE=1
cleanup() { "$bin" quit >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT

"$bin" daemon --no-tray >"$tmp/daemon.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    "$bin" status 2>/dev/null | grep -q "^server: running" && break
    sleep 0.1
done
"$bin" status | head -1
sleep 5 # let start-up settle

ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
before=$(ticks)
sleep "$SECONDS_IDLE"
after=$(ticks)
rss_kib=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
cpu_ms=$(( (after - before) * 1000 / hz ))
echo "daemon pid $pid: RSS $((rss_kib / 1024)) MiB ($rss_kib KiB); CPU $cpu_ms ms over ${SECONDS_IDLE} s idle ($(( cpu_ms * 60 / SECONDS_IDLE )) ms per minute)"
