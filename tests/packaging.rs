//! The files in `packaging/` and the .deb metadata in `Cargo.toml`.
//!
//! Runs the distributions' own validators (`desktop-file-validate`,
//! `appstreamcli validate --no-net`, `systemd-analyze verify --user` when
//! systemd is there), reads the macOS plists with Python's `plistlib`, and
//! checks that every asset the .deb lists exists (icons at the size their
//! hicolor directory claims). It does not build the .deb: `scripts/build-deb.sh`
//! does that, run by `scripts/setup-and-test.sh` (and so in CI) after the tests:
//! it checks the package's file list and Depends and runs these validators on
//! the files as extracted from it.
//!
//! The tools come from `PACKAGING_TEST_PACKAGES` in `scripts/common.sh`.

// Checks the packages with Debian's tools (desktop-file-validate, appstreamcli,
// systemd-analyze): Linux only (README, Platforms).
#![cfg(target_os = "linux")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const APP_ID: &str = "io.github.opencode_nexus.OpencodeNexus";
const ICON_NAME: &str = "opencode-nexus";
const MACOS_ID: &str = "io.github.opencode-nexus";
const ICON_SIZES: [u32; 10] = [16, 22, 24, 32, 48, 64, 128, 192, 256, 512];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn linux(file: &str) -> PathBuf {
    root().join("packaging/linux").join(file)
}

fn macos(file: &str) -> PathBuf {
    root().join("packaging/macos").join(file)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs a tool; a missing tool fails the test with how to get it.
fn run(command: &mut Command) -> Output {
    let program = command.get_program().to_string_lossy().into_owned();
    match command.output() {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "`{program}` is not installed: install PACKAGING_TEST_PACKAGES from scripts/common.sh \
             (desktop-file-utils appstream systemd python3)"
        ),
        Err(e) => panic!("run {program}: {e}"),
    }
}

fn text(output: &Output) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The `[Desktop Entry]` group of a desktop file, key by key.
fn desktop_entry(path: &Path) -> BTreeMap<String, String> {
    let mut in_entry = false;
    let mut keys = BTreeMap::new();
    for line in read(path).lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
            continue;
        }
        if in_entry && let Some((key, value)) = line.split_once('=') {
            let previous = keys.insert(key.trim().to_owned(), value.trim().to_owned());
            assert!(previous.is_none(), "{}: {key} given twice", path.display());
        }
    }
    keys
}

fn desktop_file_validate(path: &Path) {
    let output = run(Command::new("desktop-file-validate").arg(path));
    let report = text(&output);
    assert!(
        output.status.success(),
        "desktop-file-validate {}:\n{report}",
        path.display()
    );
    // It exits 0 on warnings too; only hints (e.g. two main categories) may remain.
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines() {
        assert!(
            line.contains(": hint: "),
            "desktop-file-validate {}:\n{report}",
            path.display()
        );
    }
}

#[test]
fn app_desktop_entry_is_valid_and_launches_the_daemon() {
    let path = linux(&format!("{APP_ID}.desktop"));
    desktop_file_validate(&path);
    let entry = desktop_entry(&path);
    let get = |key: &str| entry.get(key).map(String::as_str);
    assert_eq!(get("Type"), Some("Application"));
    assert_eq!(get("Name"), Some("OpenCode Nexus"));
    assert_eq!(get("Exec"), Some("opencode-nexus"));
    assert_eq!(get("Icon"), Some(ICON_NAME));
    assert_eq!(get("Terminal"), Some("false"));
    assert_eq!(get("Categories"), Some("Development;Utility;"));
    assert!(get("Keywords").is_some_and(|k| k.contains("OpenCode")));
    assert_eq!(get("NoDisplay"), None, "the app entry must show in menus");
}

#[test]
fn autostart_entry_is_valid_and_starts_the_daemon_hidden() {
    let path = linux("opencode-nexus-autostart.desktop");
    desktop_file_validate(&path);
    let entry = desktop_entry(&path);
    let get = |key: &str| entry.get(key).map(String::as_str);
    assert_eq!(get("Type"), Some("Application"));
    assert_eq!(get("Exec"), Some("opencode-nexus daemon"));
    assert_eq!(get("NoDisplay"), Some("true"));
    assert_eq!(get("X-GNOME-Autostart-enabled"), Some("true"));
    assert_eq!(get("Terminal"), Some("false"));
}

#[test]
fn metainfo_passes_appstreamcli_and_matches_the_package() {
    let path = linux(&format!("{APP_ID}.metainfo.xml"));
    let output = run(Command::new("appstreamcli")
        .args(["validate", "--no-net", "--no-color"])
        .arg(&path));
    let report = text(&output);
    assert!(output.status.success(), "appstreamcli validate:\n{report}");
    // Infos and pedantic notes are fine; errors and warnings are not.
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        assert!(
            !line.starts_with("E:") && !line.starts_with("W:"),
            "appstreamcli validate:\n{report}"
        );
    }

    let xml = read(&path);
    for needle in [
        r#"<component type="desktop-application">"#.to_owned(),
        format!("<id>{APP_ID}</id>"),
        "<metadata_license>CC0-1.0</metadata_license>".to_owned(),
        format!(
            "<project_license>{}</project_license>",
            env!("CARGO_PKG_LICENSE")
        ),
        format!(r#"<launchable type="desktop-id">{APP_ID}.desktop</launchable>"#),
        "<binary>opencode-nexus</binary>".to_owned(),
        "<content_rating".to_owned(),
        format!(r#"<release version="{}""#, env!("CARGO_PKG_VERSION")),
    ] {
        assert!(xml.contains(&needle), "metainfo lacks {needle}");
    }
}

#[test]
fn systemd_user_unit_runs_the_packaged_daemon() {
    let path = linux("opencode-nexus.service");
    let unit = read(&path);
    for line in [
        "Type=simple",
        "ExecStart=/usr/bin/opencode-nexus daemon",
        "Restart=on-failure",
        "PartOf=graphical-session.target",
        "WantedBy=graphical-session.target",
    ] {
        assert!(
            unit.lines().any(|l| l.trim() == line),
            "opencode-nexus.service lacks {line}"
        );
    }

    let probe = Command::new("systemd-analyze").arg("--version").output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("systemd-analyze is not available: skipping `systemd-analyze verify --user`");
        return;
    }
    // Verify checks that ExecStart is executable, so point it at this build's
    // binary; a user manager needs a runtime directory of its own.
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let copy = dir.path().join("opencode-nexus.service");
    std::fs::write(
        &copy,
        unit.replace(
            "ExecStart=/usr/bin/opencode-nexus ",
            &format!("ExecStart={} ", env!("CARGO_BIN_EXE_opencode-nexus")),
        ),
    )
    .unwrap();
    let output = run(Command::new("systemd-analyze")
        .args(["verify", "--user"])
        .arg(&copy)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("SYSTEMD_LOG_COLOR", "0"));
    let report = text(&output);
    assert!(
        output.status.success(),
        "systemd-analyze verify --user:\n{report}"
    );
    // A bad value is only a warning (exit 0) naming the file: allow none.
    assert!(
        !report.contains("opencode-nexus.service"),
        "systemd-analyze verify --user:\n{report}"
    );
}

/// A plist as JSON, read by Python's `plistlib` (the format macOS writes).
fn plist(path: &Path) -> serde_json::Value {
    let script = "import json, plistlib, sys\n\
                  with open(sys.argv[1], 'rb') as f:\n    \
                      print(json.dumps(plistlib.load(f)))";
    let output = run(Command::new("python3").args(["-c", script]).arg(path));
    assert!(
        output.status.success(),
        "plistlib {}:\n{}",
        path.display(),
        text(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn macos_info_plist_is_a_menu_bar_app_bundle() {
    let info = plist(&macos("Info.plist"));
    assert_eq!(info["CFBundleIdentifier"], MACOS_ID);
    assert_eq!(info["CFBundleExecutable"], "opencode-nexus");
    assert_eq!(info["CFBundleName"], "OpenCode Nexus");
    assert_eq!(info["CFBundlePackageType"], "APPL");
    assert_eq!(info["LSUIElement"], true, "a menu-bar app has no Dock icon");
    assert_eq!(
        info["CFBundleShortVersionString"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(info["CFBundleVersion"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn macos_launch_agent_starts_the_bundled_daemon_at_login() {
    let file = format!("{MACOS_ID}.plist");
    let agent = plist(&macos(&file));
    assert_eq!(agent["Label"], MACOS_ID, "the label matches the file name");
    assert_eq!(
        agent["ProgramArguments"],
        serde_json::json!([
            "/Applications/OpenCode Nexus.app/Contents/MacOS/opencode-nexus",
            "daemon"
        ])
    );
    assert_eq!(agent["RunAtLoad"], true);
    assert_eq!(agent["KeepAlive"], false, "Quit must stay quit");
}

/// `(source, destination)` of every asset in `[package.metadata.deb]`.
fn deb_assets() -> Vec<(String, String)> {
    let manifest: toml::Table = toml::from_str(&read(&root().join("Cargo.toml"))).unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    for key in [
        "maintainer",
        "section",
        "priority",
        "depends",
        "extended-description",
    ] {
        assert!(
            deb.get(key).and_then(|v| v.as_str()).is_some(),
            "[package.metadata.deb] has no {key}"
        );
    }
    deb["assets"]
        .as_array()
        .expect("[package.metadata.deb] assets")
        .iter()
        .map(|asset| {
            let fields: Vec<&str> = asset
                .as_array()
                .expect("an asset is [source, destination, mode]")
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(
                fields.len(),
                3,
                "asset {fields:?}: [source, destination, mode]"
            );
            assert!(
                u32::from_str_radix(fields[2], 8).is_ok(),
                "asset {fields:?}: mode is octal"
            );
            (fields[0].to_owned(), fields[1].to_owned())
        })
        .collect()
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "{} is not a PNG",
        path.display()
    );
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn every_deb_asset_exists_and_icons_have_their_hicolor_size() {
    let assets = deb_assets();
    for (source, _) in &assets {
        // The binary is built by `cargo deb` (cargo-deb maps target/release).
        if source.starts_with("target/") {
            continue;
        }
        assert!(
            root().join(source).is_file(),
            "deb asset {source} does not exist"
        );
    }

    let destinations: BTreeSet<&str> = assets.iter().map(|(_, d)| d.as_str()).collect();
    for wanted in [
        "usr/bin/",
        "usr/share/applications/",
        "usr/share/metainfo/",
        "usr/lib/systemd/user/",
        "usr/share/doc/opencode-nexus/README.md",
    ] {
        assert!(destinations.contains(wanted), "nothing goes to {wanted}");
    }
    let source_of = |dest: &str| {
        assets
            .iter()
            .find(|(_, d)| d == dest)
            .map(|(s, _)| s.as_str())
    };
    assert_eq!(source_of("usr/bin/"), Some("target/release/opencode-nexus"));
    assert_eq!(
        source_of("usr/share/applications/"),
        Some(format!("packaging/linux/{APP_ID}.desktop").as_str())
    );
    assert_eq!(
        source_of("usr/share/metainfo/"),
        Some(format!("packaging/linux/{APP_ID}.metainfo.xml").as_str())
    );
    assert_eq!(
        source_of("usr/lib/systemd/user/"),
        Some("packaging/linux/opencode-nexus.service")
    );

    // One PNG per size, at that size, named after the desktop entry's Icon=.
    for size in ICON_SIZES {
        let dest = format!("usr/share/icons/hicolor/{size}x{size}/apps/{ICON_NAME}.png");
        let source = source_of(&dest).unwrap_or_else(|| panic!("no icon goes to {dest}"));
        assert_eq!(
            png_size(&root().join(source)),
            (size, size),
            "{source} installed as {dest}"
        );
    }
    let svg = source_of(&format!(
        "usr/share/icons/hicolor/scalable/apps/{ICON_NAME}.svg"
    ))
    .expect("no scalable icon");
    assert!(
        read(&root().join(svg)).contains("<svg"),
        "{svg} is not an SVG"
    );

    // Every rendered size of the app icon is packaged (a new size is not forgotten).
    let rendered: BTreeSet<u32> = std::fs::read_dir(root().join("icons/png"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|size: &u32| {
            root()
                .join(format!("icons/png/{size}/{ICON_NAME}.png"))
                .is_file()
        })
        .collect();
    assert_eq!(rendered, BTreeSet::from(ICON_SIZES));
}

/// The OpenCode the tests install and the one first-run setup installs are the same release.
#[test]
fn the_pinned_opencode_is_the_one_setup_installs() {
    let common = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/common.sh"),
    )
    .unwrap();
    let pinned = common
        .lines()
        .find_map(|l| l.strip_prefix("OPENCODE_VERSION="))
        .expect("OPENCODE_VERSION in scripts/common.sh");
    assert_eq!(
        pinned,
        opencode_nexus::supervisor::locate::SUPPORTED_OPENCODE_VERSION
    );
}
