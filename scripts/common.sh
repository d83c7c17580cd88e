# Shared by the setup scripts: the pinned OpenCode version and small helpers.
# shellcheck shell=bash

# The OpenCode server version Nexus is built and tested against.
OPENCODE_VERSION=1.18.33

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/tools"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Runs a command as root (directly, or through sudo).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian/Ubuntu packages named, if any is missing. `apt-get update`
# runs once, only when something must be installed.
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "missing packages: ${missing[*]} (no apt-get here: install them with your package manager)" >&2
        return 1
    fi
    say "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Makes sure node and npm exist (Debian's packages when absent).
ensure_npm() {
    command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 && return 0
    apt_install nodejs npm
}

# Installs the pinned opencode-ai into PREFIX (npm --prefix), unless it is there.
install_opencode_into() {
    local prefix="$1"
    local bin="$prefix/node_modules/.bin/opencode"
    if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$OPENCODE_VERSION" ]; then
        return 0
    fi
    ensure_npm
    say "installing opencode-ai@$OPENCODE_VERSION into $prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "opencode-ai@$OPENCODE_VERSION" >&2
    "$bin" --version >/dev/null
}

# What building Nexus needs from the system: the popover binary links GTK 3
# and WebKitGTK 4.1 (the resident binary links neither).
BUILD_PACKAGES=(build-essential pkg-config ca-certificates libgtk-3-dev libwebkit2gtk-4.1-dev)

# The accessibility checker the popover tests run against the page (npm).
AXE_CORE_VERSION=4.10.3

# Installs the pinned axe-core into PREFIX (npm --prefix), unless it is there.
install_axe_into() {
    local prefix="$1"
    local script="$prefix/node_modules/axe-core/axe.min.js"
    if [ -f "$script" ] && grep -q "\"version\": \"$AXE_CORE_VERSION\"" "$prefix/node_modules/axe-core/package.json"; then
        return 0
    fi
    ensure_npm
    say "installing axe-core@$AXE_CORE_VERSION into $prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "axe-core@$AXE_CORE_VERSION" >&2
    [ -f "$script" ]
}

# What the headless-desktop tray tests need (tests/support/headless_desktop.rs):
# Xvfb, a private session bus, xfce4-panel whose systray plugin is the
# StatusNotifierWatcher (xfconfd comes in as a hard dependency, so
# --no-install-recommends is enough), gdbus to read items, `import` for
# screenshots, python3-gi for the harness's fake tray item; xdotool, dunst,
# dbus-x11 and x11-utils for pointer, notification and debugging work.
# webkit2gtk-driver (WebKitWebDriver) drives the real popover in tests.
DESKTOP_TEST_PACKAGES=(xvfb dbus dbus-x11 xfce4-panel libglib2.0-bin imagemagick x11-utils xdotool dunst python3-gi webkit2gtk-driver xclip)

# What the side-by-side tray benchmark needs (tests/tray_footprint.rs, run by
# scripts/bench-tray.sh) on top of DESKTOP_TEST_PACKAGES: the peer it is
# measured against, syncthingtray watching a loopback syncthing.
BENCH_PACKAGES=(syncthing syncthingtray)

# The cargo-deb that builds the .deb (scripts/build-deb.sh), installed into
# tools/cargo-deb by install_cargo_deb; $CARGO_DEB is its binary.
CARGO_DEB_VERSION=3.8.0
CARGO_DEB="$TOOLS/cargo-deb/bin/cargo-deb"

# Installs the pinned cargo-deb into tools/cargo-deb (`cargo install --root`),
# unless that exact version is there. Run it as "$CARGO_DEB" deb …: the one on
# PATH, if any, may be another version.
install_cargo_deb() {
    if [ -x "$CARGO_DEB" ] && [ "$("$CARGO_DEB" --version 2>/dev/null)" = "cargo-deb $CARGO_DEB_VERSION" ]; then
        return 0
    fi
    say "installing cargo-deb@$CARGO_DEB_VERSION into $TOOLS/cargo-deb"
    cargo install --locked cargo-deb --version "$CARGO_DEB_VERSION" --root "$TOOLS/cargo-deb" --force >&2
    local got
    got="$("$CARGO_DEB" --version)"
    if [ "$got" != "cargo-deb $CARGO_DEB_VERSION" ]; then
        echo "$CARGO_DEB reports '$got', not cargo-deb $CARGO_DEB_VERSION" >&2
        return 1
    fi
}

# The cargo-fuzz that builds and runs the fuzz targets (scripts/fuzz.sh),
# installed into tools/cargo-fuzz by install_cargo_fuzz; $CARGO_FUZZ is its binary.
CARGO_FUZZ_VERSION=0.13.2
CARGO_FUZZ="$TOOLS/cargo-fuzz/bin/cargo-fuzz"

# Installs the pinned cargo-fuzz into tools/cargo-fuzz (`cargo install --root`),
# unless that exact version is there. Run it as "$CARGO_FUZZ" fuzz …
install_cargo_fuzz() {
    if [ -x "$CARGO_FUZZ" ] && [ "$("$CARGO_FUZZ" fuzz --version 2>/dev/null)" = "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
        return 0
    fi
    say "installing cargo-fuzz@$CARGO_FUZZ_VERSION into $TOOLS/cargo-fuzz"
    cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" --root "$TOOLS/cargo-fuzz" --force >&2
    local got
    got="$("$CARGO_FUZZ" fuzz --version)"
    if [ "$got" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
        echo "$CARGO_FUZZ reports '$got', not cargo-fuzz $CARGO_FUZZ_VERSION" >&2
        return 1
    fi
}

# What the packaging tests need (tests/packaging.rs): desktop-file-validate,
# appstreamcli, systemd-analyze (the user-unit check is skipped without it) and
# python3 (plistlib reads the macOS plists).
PACKAGING_TEST_PACKAGES=(desktop-file-utils appstream systemd python3)
