#!/usr/bin/env bash
# Idle footprint of the resident daemon (release build) with a managed,
# connected and idle server: RSS, CPU time and wake-ups per idle minute, and
# where they come from (per thread, from /proc/PID/task/*/schedstat: run time
# and times scheduled; with STRACE=1 also `strace -c -f` over the window).
#
# Usage: scripts/measure-daemon-idle.sh [seconds, default 60]
# Env:   NEXUS_BINARY=PATH measures that binary (e.g. a build of an older
#        commit) instead of building target/release/opencode-nexus.
#        STRACE=1 adds a system-call count (strace slows what it traces: the
#        CPU figure of that run is not comparable).
#        REMOTE=1 turns the remote gateway on (loopback, TLS, no client
#        connected) and measures its process too, the same way.
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

if [ "${REMOTE:-0}" = 1 ]; then
    mkdir -p "$XDG_CONFIG_HOME/opencode-nexus"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    printf '[remote]\nenabled = true\nlisten = "127.0.0.1:%s"\n' "$port" >"$XDG_CONFIG_HOME/opencode-nexus/config.toml"
fi
"$bin" daemon --no-tray >"$tmp/daemon.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    "$bin" status 2>/dev/null | grep -q "^server: running" && break
    sleep 0.1
done
"$bin" status | head -1
sleep 5 # let start-up settle
daemon_pid=$pid
gateway_pid=""
if [ "${REMOTE:-0}" = 1 ]; then
    gateway_pid=$(pgrep -P "$daemon_pid" -f opencode-nexus-gateway || true)
    [ -n "$gateway_pid" ] || { echo "no gateway process"; cat "$XDG_STATE_HOME/opencode-nexus/gateway.log"; exit 1; }
fi

# Per thread: "tid name run_ns slices" (schedstat: run time, wait time, times scheduled).
threads() {
    for task in /proc/"$pid"/task/*; do
        [ -r "$task/schedstat" ] || continue
        printf '%s %s %s\n' "${task##*/}" "$(tr ' ' '_' <"$task/comm")" \
            "$(awk '{ print $1, $3 }' "$task/schedstat")"
    done
}
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
snapshot() { # $1: suffix
    for p in $daemon_pid $gateway_pid; do
        pid=$p threads >"$tmp/threads.$p.$1"
        pid=$p ticks >"$tmp/ticks.$p.$1"
    done
}
snapshot before
if [ "${STRACE:-0}" = 1 ]; then
    timeout --signal=INT "$SECONDS_IDLE" strace -c -f -p "$pid" -o "$tmp/strace.txt" || true
else
    sleep "$SECONDS_IDLE"
fi
snapshot after
for pid in $daemon_pid $gateway_pid; do
what=daemon
[ "$pid" = "$gateway_pid" ] && what=gateway
before=$(cat "$tmp/ticks.$pid.before")
after=$(cat "$tmp/ticks.$pid.after")
rss_kib=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
cpu_ms=$(( (after - before) * 1000 / hz ))
echo "$what pid $pid: RSS $((rss_kib / 1024)) MiB ($rss_kib KiB); CPU $cpu_ms ms over ${SECONDS_IDLE} s idle ($(( cpu_ms * 60 / SECONDS_IDLE )) ms per minute)"
# Threads that ended during the window count with what they had at its start
# missing (their whole life is in the window): the rare blocking-pool thread.
awk -v secs="$SECONDS_IDLE" '
    NR == FNR { run[$1] = $3; slices[$1] = $4; next }
    { d_run = $3 - run[$1]; d_sl = $4 - slices[$1]; total_run += d_run; total_sl += d_sl
      printf "  thread %-8s %-22s %8.2f ms/min %6.1f wake-ups/min\n", $1, $2, d_run / 1e6 * 60 / secs, d_sl * 60 / secs }
    END { printf "  all threads: %.2f ms/min (schedstat run time), %.1f wake-ups/min (times scheduled)\n", total_run / 1e6 * 60 / secs, total_sl * 60 / secs }
' "$tmp/threads.$pid.before" "$tmp/threads.$pid.after"
done
if [ -s "$tmp/strace.txt" ]; then
    echo "system calls over the window (strace -c -f):"
    sed 's/^/  /' "$tmp/strace.txt"
fi
