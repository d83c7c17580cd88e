#!/usr/bin/env bash
# Builds the Debian package with cargo-deb and checks what it holds.
#
# Installs cargo-deb (`cargo install cargo-deb --locked`) if it is missing,
# builds target/debian/opencode-nexus_<version>-1_<arch>.deb (a release build
# first, as `cargo deb` does), then checks the package with dpkg-deb: every
# file [package.metadata.deb] promises is in it, the binary is executable, and
# the control file's Depends came out of $auto. Extra arguments go to `cargo deb`.
set -euo pipefail
source "$(dirname "$0")/common.sh"

apt_install "${BUILD_PACKAGES[@]}" dpkg-dev   # dpkg-shlibdeps resolves $auto

if ! cargo deb --version >/dev/null 2>&1; then
    say "installing cargo-deb"
    cargo install cargo-deb --locked
fi

cd "$ROOT"
say "building the .deb ($(cargo deb --version))"
deb="$(cargo deb --locked "$@" | tail -n 1)"
[ -f "$deb" ] || { echo "cargo deb printed no package path (got: $deb)" >&2; exit 1; }
say "built $deb"

listing="$(dpkg-deb -c "$deb")"
printf '%s\n' "$listing"

expected=(
    ./usr/bin/opencode-nexus
    ./usr/bin/opencode-nexus-popover
    ./usr/share/applications/io.github.opencode_nexus.OpencodeNexus.desktop
    ./usr/share/metainfo/io.github.opencode_nexus.OpencodeNexus.metainfo.xml
    ./usr/lib/systemd/user/opencode-nexus.service
    ./usr/share/icons/hicolor/scalable/apps/opencode-nexus.svg
    ./usr/share/doc/opencode-nexus/README.md
    ./usr/share/doc/opencode-nexus/packaging.md
    ./usr/share/doc/opencode-nexus/copyright
    ./usr/share/doc/opencode-nexus/examples/opencode-nexus-autostart.desktop
)
for size in 16 22 24 32 48 64 128 256; do
    expected+=("./usr/share/icons/hicolor/${size}x${size}/apps/opencode-nexus.png")
done

missing=0
for path in "${expected[@]}"; do
    if ! awk '{ print $NF }' <<<"$listing" | grep -qxF "$path"; then
        echo "missing from the package: $path" >&2
        missing=1
    fi
done
if ! grep -qE '^-rwxr-xr-x .* \./usr/bin/opencode-nexus$' <<<"$listing"; then
    echo "usr/bin/opencode-nexus is not installed 0755" >&2
    missing=1
fi

say "control"
dpkg-deb -f "$deb"
depends="$(dpkg-deb -f "$deb" Depends)"
if [ -z "$depends" ] || grep -q '\$auto' <<<"$depends"; then
    echo "Depends was not resolved: '$depends'" >&2
    missing=1
fi

[ "$missing" -eq 0 ] || { echo "the package is incomplete: see above" >&2; exit 1; }
say "ok: $deb (${#expected[@]} expected files present; Depends: $depends)"
