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

# The page's JavaScript unit tests (tests/ui_units.rs runs ui/tests/*.test.js
# with Node's test runner): jsdom for a DOM, and the CommonMark spec's examples.
JSDOM_VERSION=26.1.0
COMMONMARK_SPEC_VERSION=0.31.2

# Installs the pinned jsdom and commonmark-spec into PREFIX (npm --prefix),
# unless both are there at those versions.
install_ui_test_deps_into() {
    local prefix="$1"
    local modules="$prefix/node_modules"
    if grep -qs "\"version\": \"$JSDOM_VERSION\"" "$modules/jsdom/package.json" &&
        grep -qs "\"version\": \"$COMMONMARK_SPEC_VERSION\"" "$modules/commonmark-spec/package.json"; then
        return 0
    fi
    ensure_npm
    say "installing jsdom@$JSDOM_VERSION and commonmark-spec@$COMMONMARK_SPEC_VERSION into $prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
        "jsdom@$JSDOM_VERSION" "commonmark-spec@$COMMONMARK_SPEC_VERSION" >&2
    [ -f "$modules/jsdom/package.json" ] && [ -f "$modules/commonmark-spec/package.json" ]
}

# What the headless-desktop tray tests need (tests/support/headless_desktop.rs):
# Xvfb, a private session bus, xfce4-panel whose systray plugin is the
# StatusNotifierWatcher (xfconfd comes in as a hard dependency, so
# --no-install-recommends is enough), gdbus to read items, `import` for
# screenshots, python3-gi for the harness's fake tray item; xdotool, dunst,
# dbus-x11 and x11-utils for pointer, notification and debugging work.
# webkit2gtk-driver (WebKitWebDriver) drives the real popover in tests.
DESKTOP_TEST_PACKAGES=(xvfb dbus dbus-x11 xfce4-panel libglib2.0-bin imagemagick x11-utils xdotool dunst python3-gi webkit2gtk-driver xclip)

# The phone's browser for the remote gateway's test (tests/remote_phone_browser.rs,
# tests/support/chromium.rs): Debian's Chromium, headless, driven by chromedriver
# (/usr/bin/chromium, /usr/bin/chromedriver).
BROWSER_TEST_PACKAGES=(chromium chromium-driver)

# What the side-by-side tray benchmark needs (tests/bench_tray_footprint.rs, run by
# scripts/bench-tray.sh) on top of DESKTOP_TEST_PACKAGES: the peer it is
# measured against, syncthingtray watching a loopback syncthing.
BENCH_PACKAGES=(syncthing syncthingtray)

# Installs the pinned cargo subcommand NAME@VERSION into tools/NAME
# (`cargo install --root`), unless that exact version is there already.
# VERSION_ARGS are what makes the binary print "NAME VERSION" (cargo-deb takes
# --version, cargo-fuzz `fuzz --version`). Run the tool by its path in tools/:
# the one on PATH, if any, may be another version.
install_pinned_cargo_tool() {
    local name="$1" version="$2"
    shift 2
    local bin="$TOOLS/$name/bin/$name"
    if [ -x "$bin" ] && [ "$("$bin" "$@" 2>/dev/null)" = "$name $version" ]; then
        return 0
    fi
    say "installing $name@$version into $TOOLS/$name"
    cargo install --locked "$name" --version "$version" --root "$TOOLS/$name" --force >&2
    local got
    got="$("$bin" "$@")"
    if [ "$got" != "$name $version" ]; then
        echo "$bin reports '$got', not $name $version" >&2
        return 1
    fi
}

# The cargo-deb that builds the .deb (scripts/build-deb.sh); run it as
# "$CARGO_DEB" deb …
CARGO_DEB_VERSION=3.8.0
CARGO_DEB="$TOOLS/cargo-deb/bin/cargo-deb"
install_cargo_deb() { install_pinned_cargo_tool cargo-deb "$CARGO_DEB_VERSION" --version; }

# The cargo-fuzz that builds and runs the fuzz targets (scripts/fuzz.sh); run
# it as "$CARGO_FUZZ" fuzz …
CARGO_FUZZ_VERSION=0.13.2
CARGO_FUZZ="$TOOLS/cargo-fuzz/bin/cargo-fuzz"
install_cargo_fuzz() { install_pinned_cargo_tool cargo-fuzz "$CARGO_FUZZ_VERSION" fuzz --version; }

# What the packaging tests need (tests/packaging.rs): desktop-file-validate,
# appstreamcli, systemd-analyze (the user-unit check is skipped without it) and
# python3 (plistlib reads the macOS plists).
PACKAGING_TEST_PACKAGES=(desktop-file-utils appstream systemd python3)

# Runs SCRIPT after the tests (its output shown, and kept in LOG) and reads its
# last "PREFIX: …" verdict line. Returns 0 when the script exited 0 and said
# "PREFIX: ok …" (that line is then just above). Otherwise repeats the lines
# matching PROBLEMS and the verdict (or a FAILED line) under everything else,
# so they are the last thing read, and returns non-zero.
checked_step() {
    local script="$1" log="$2" prefix="$3" problems="$4"
    local status=0 verdict
    bash "$script" 2>&1 | tee "$log" || status=$?
    verdict="$(grep "^$prefix: " "$log" | tail -n 1 || true)"
    if [ "$status" -eq 0 ] && [[ "$verdict" == "$prefix: ok "* ]]; then
        return 0
    fi
    [ "$status" -ne 0 ] || status=1
    grep -- "$problems" "$log" || true
    echo "${verdict:-$prefix: FAILED (scripts/${script##*/} exited $status: see its output above)}"
    return "$status"
}

# The targets scripts/cross-check.sh checks the crate for, besides Linux.
CROSS_TARGETS=(aarch64-apple-darwin x86_64-pc-windows-gnu)

# What that check needs from the system: Debian's clang compiles
# objc2-exception-helper's header-free Objective-C for macOS
# (CC_aarch64_apple_darwin=clang); MinGW-w64's gcc is the C compiler for the
# Windows target (ring, rustls' crypto, is C and assembly).
CROSS_PACKAGES=(clang gcc-mingw-w64-x86-64)

# What scripts/windows-wine-test.sh needs on top of CROSS_PACKAGES: Debian's
# Wine, to run the cross-built Windows binary (wine64 and wineserver live in
# /usr/lib/wine, not on PATH).
WINE_PACKAGES=(wine64)

# Installs the Rust standard library for every CROSS_TARGETS entry
# (`rustup target add`). Fails loudly rather than letting CI skip the check:
# a machine that cannot install them cannot say the code still builds there.
install_cross_targets() {
    if ! command -v rustup >/dev/null 2>&1; then
        echo "cross check: BLOCKED (no rustup here, so the standard library for ${CROSS_TARGETS[*]} cannot be installed; install Rust through rustup)" >&2
        return 1
    fi
    local installed
    installed="$(rustup target list --installed)"
    local missing=()
    for target in "${CROSS_TARGETS[@]}"; do
        grep -qx "$target" <<< "$installed" || missing+=("$target")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing the Rust standard library for ${missing[*]}"
    if ! rustup target add "${missing[@]}" >&2; then
        echo "cross check: BLOCKED (\`rustup target add ${missing[*]}\` failed: see its output above; the macOS and Windows builds were not checked)" >&2
        return 1
    fi
}
