#!/usr/bin/env bash
# Builds the Debian package with cargo-deb and checks what it holds.
#
# Installs the pinned cargo-deb into tools/cargo-deb (install_cargo_deb in
# common.sh) unless it is there, builds target/debian/opencode-nexus_<version>-1_<arch>.deb
# (`cargo deb --locked` first runs `cargo build --release --locked` for both
# binaries, so a clean checkout is enough), then checks the package:
#   - every file [package.metadata.deb] promises is in it (dpkg-deb -c): both
#     binaries (0755), the desktop entry, the metainfo, the hicolor icons in
#     every size, the systemd user unit and the docs (other files 0644);
#   - the control file's Depends came out of $auto and names WebKitGTK 4.1 and
#     GTK 3 (the popover binary links both);
#   - the desktop entries and the metainfo as extracted from the package pass
#     desktop-file-validate, appstreamcli validate --no-net and, on the whole
#     extracted tree, appstreamcli validate-tree --no-net (hints and infos are
#     fine, warnings are not).
# Every problem is one line starting "deb check:"; the last line says
# "deb package: ok (PATH, SIZE)" or "deb package: FAILED (…)", and the exit
# status is 1 when anything is wrong. Extra arguments go to `cargo deb`.
# scripts/setup-and-test.sh (and so CI) runs it after the tests.
set -euo pipefail
source "$(dirname "$0")/common.sh"

# dpkg-dev: dpkg-shlibdeps resolves $auto; the validators check the contents.
apt_install "${BUILD_PACKAGES[@]}" dpkg-dev desktop-file-utils appstream
install_cargo_deb

APP_ID=io.github.opencode_nexus.OpencodeNexus
ICON_SIZES=(16 22 24 32 48 64 128 192 256 512)   # as in tests/packaging.rs

cd "$ROOT"
say "building the .deb ($("$CARGO_DEB" --version))"
if ! out="$("$CARGO_DEB" deb --locked "$@")"; then
    echo "deb check: cargo deb failed (its errors are above)" >&2
    echo "deb package: FAILED (cargo deb could not build it)"
    exit 1
fi
deb="$(tail -n 1 <<<"$out")"
rel="${deb#"$ROOT"/}"
if [ ! -f "$deb" ]; then
    echo "deb check: cargo deb printed no package path (its last line: '$deb')" >&2
    echo "deb package: FAILED (no package file)"
    exit 1
fi
say "built $rel"

# A problem: one "deb check: HEADLINE" line, then DETAILS (if any) indented.
problems=0
problem() {
    echo "deb check: $1" >&2
    [ $# -lt 2 ] || grep -v '^[[:space:]]*$' <<<"$2" | sed 's/^/    /' >&2 || true
    problems=$((problems + 1))
}

say "contents"
listing="$(dpkg-deb -c "$deb")"
printf '%s\n' "$listing"
# "MODE OWNER SIZE DATE TIME PATH" per entry: path → mode.
declare -A mode_of
while read -r mode _ _ _ _ path _; do
    mode_of["$path"]="$mode"
done <<<"$listing"

expected=(
    ./usr/bin/opencode-nexus
    ./usr/bin/opencode-nexus-popover
    ./usr/bin/opencode-nexus-gateway
    "./usr/share/applications/$APP_ID.desktop"
    "./usr/share/metainfo/$APP_ID.metainfo.xml"
    ./usr/lib/systemd/user/opencode-nexus.service
    ./usr/share/icons/hicolor/scalable/apps/opencode-nexus.svg
    ./usr/share/doc/opencode-nexus/README.md
    ./usr/share/doc/opencode-nexus/packaging.md
    ./usr/share/doc/opencode-nexus/copyright
    ./usr/share/doc/opencode-nexus/examples/opencode-nexus-autostart.desktop
)
for size in "${ICON_SIZES[@]}"; do
    expected+=("./usr/share/icons/hicolor/${size}x${size}/apps/opencode-nexus.png")
done
for path in "${expected[@]}"; do
    mode="${mode_of[$path]:-}"
    case "$path" in
        ./usr/bin/*) want=-rwxr-xr-x ;;
        *) want=-rw-r--r-- ;;
    esac
    if [ -z "$mode" ]; then
        problem "missing from the package: $path"
    elif [ "$mode" != "$want" ]; then
        problem "$path is $mode, not $want"
    fi
done

say "control"
dpkg-deb -f "$deb"
depends="$(dpkg-deb -f "$deb" Depends)"
if [ -z "$depends" ]; then
    problem "the control file has no Depends (\$auto resolved to nothing)"
elif grep -qF '$auto' <<<"$depends"; then
    problem "Depends still holds \$auto (dpkg-shlibdeps did not run): $depends"
else
    grep -qE '(^|[ ,])libwebkit2gtk-4\.1-' <<<"$depends" ||
        problem "Depends names no libwebkit2gtk-4.1 package (the popover links WebKitGTK 4.1): $depends"
    grep -qE '(^|[ ,])libgtk-3-' <<<"$depends" ||
        problem "Depends names no libgtk-3 package (the popover links GTK 3): $depends"
fi

say "validating the files as extracted from the package"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
dpkg-deb -x "$deb" "$tree"

# Runs a validator (the command after PATH and FILTER) on PATH in the extracted
# tree; a failure, or an output line that FILTER (a function reading the
# output) prints, is a problem. Other output (hints, infos) is shown under "ok".
validate() {
    local path="$1" filter="$2" shown="$1" out bad status=0
    shift 2
    [ "$path" != . ] || shown="(the extracted tree)"
    if [ ! -e "$tree/$path" ]; then
        echo "deb check: $1 $shown skipped: not in the package" >&2
        return
    fi
    out="$("$@" "$tree/$path" 2>&1)" || status=$?
    out="${out//"$tree"\//}"
    bad="$("$filter" <<<"$out")"
    if [ "$status" -ne 0 ] || [ -n "$bad" ]; then
        bad="$(head -n 1 <<<"${bad:-exit status $status}" | sed 's/^[[:space:]]*//')"
        problem "$* $shown: ${bad#"$path: "}" "$out"
        return
    fi
    echo "$* $shown: ok"
    grep -v '^$' <<<"$out" | sed 's/^/    /' || true
}
# desktop-file-validate exits 0 on warnings too: only hints may remain.
desktop_file_problems() { grep -v -e ': hint: ' -e '^$' || true; }
validate "usr/share/applications/$APP_ID.desktop" desktop_file_problems desktop-file-validate
validate usr/share/doc/opencode-nexus/examples/opencode-nexus-autostart.desktop desktop_file_problems desktop-file-validate
# appstreamcli: infos (I:) and pedantic notes (P:) are fine, errors (E:) and
# warnings (W:) are not. validate-tree also checks the metainfo against the
# installed tree (its launchable desktop entry, its icon).
appstream_problems() { grep -E '^[[:space:]]*[EW]: ' || true; }
validate "usr/share/metainfo/$APP_ID.metainfo.xml" appstream_problems appstreamcli validate --no-net --no-color
validate . appstream_problems appstreamcli validate-tree --no-net --no-color

if [ "$problems" -ne 0 ]; then
    echo "deb package: FAILED ($problems problem(s) in $rel: see the \"deb check:\" lines)"
    exit 1
fi
size="$(numfmt --to=iec-i --suffix=B "$(stat -c %s "$deb")")"
echo "deb package: ok ($rel, $size)"
