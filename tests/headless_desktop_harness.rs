//! Proves the headless desktop harness (tests/support/headless_desktop.rs):
//! a fake StatusNotifierItem, written in Python with Gio (no Rust GUI crate),
//! registers with the panel's watcher; the harness reads its properties and
//! menu, clicks it, and takes a screenshot.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use support::headless_desktop::{HeadlessDesktop, WATCHER};

const TITLE: &str = "Nexus Harness Probe";
const WAIT: Duration = Duration::from_secs(20);

/// A minimal StatusNotifierItem (`/StatusNotifierItem`, orange IconPixmap,
/// title and tooltip) with a dbusmenu at `/MenuBar` (entries 1 "Open Nexus",
/// 2 "Quit"). It prints `ready NAME` once registered, then one line per call
/// it receives (`activate X Y`, `menu-event ID TYPE`).
const FAKE_ITEM_PY: &str = r#"
import os, sys
import gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib

TITLE = sys.argv[1]
XML = """<node>
<interface name='org.kde.StatusNotifierItem'>
  <method name='Activate'><arg type='i' direction='in'/><arg type='i' direction='in'/></method>
  <method name='SecondaryActivate'><arg type='i' direction='in'/><arg type='i' direction='in'/></method>
  <method name='ContextMenu'><arg type='i' direction='in'/><arg type='i' direction='in'/></method>
  <method name='Scroll'><arg type='i' direction='in'/><arg type='s' direction='in'/></method>
  <property name='Category' type='s' access='read'/>
  <property name='Id' type='s' access='read'/>
  <property name='Title' type='s' access='read'/>
  <property name='Status' type='s' access='read'/>
  <property name='WindowId' type='i' access='read'/>
  <property name='IconName' type='s' access='read'/>
  <property name='IconPixmap' type='a(iiay)' access='read'/>
  <property name='ToolTip' type='(sa(iiay)ss)' access='read'/>
  <property name='ItemIsMenu' type='b' access='read'/>
  <property name='Menu' type='o' access='read'/>
</interface>
<interface name='com.canonical.dbusmenu'>
  <method name='GetLayout'>
    <arg type='i' direction='in'/><arg type='i' direction='in'/><arg type='as' direction='in'/>
    <arg type='u' direction='out'/><arg type='(ia{sv}av)' direction='out'/>
  </method>
  <method name='GetGroupProperties'>
    <arg type='ai' direction='in'/><arg type='as' direction='in'/><arg type='a(ia{sv})' direction='out'/>
  </method>
  <method name='Event'>
    <arg type='i' direction='in'/><arg type='s' direction='in'/><arg type='v' direction='in'/><arg type='u' direction='in'/>
  </method>
  <method name='AboutToShow'><arg type='i' direction='in'/><arg type='b' direction='out'/></method>
  <property name='Version' type='u' access='read'/>
  <property name='Status' type='s' access='read'/>
  <property name='TextDirection' type='s' access='read'/>
</interface>
</node>"""

def log(*parts):
    print(*parts, flush=True)

SIZE = 22
PIXELS = bytes([255, 240, 120, 20]) * (SIZE * SIZE)  # ARGB, network order
ITEM = {
    "Category": GLib.Variant("s", "ApplicationStatus"),
    "Id": GLib.Variant("s", "nexus-harness-probe"),
    "Title": GLib.Variant("s", TITLE),
    "Status": GLib.Variant("s", "Active"),
    "WindowId": GLib.Variant("i", 0),
    "IconName": GLib.Variant("s", ""),
    "IconPixmap": GLib.Variant("a(iiay)", [(SIZE, SIZE, PIXELS)]),
    "ToolTip": GLib.Variant("(sa(iiay)ss)", ("", [], TITLE, "harness tooltip")),
    "ItemIsMenu": GLib.Variant("b", False),
    "Menu": GLib.Variant("o", "/MenuBar"),
}
MENU = {
    "Version": GLib.Variant("u", 3),
    "Status": GLib.Variant("s", "normal"),
    "TextDirection": GLib.Variant("s", "ltr"),
}
ENTRIES = [(1, "Open Nexus"), (2, "Quit")]

def layout():
    children = [GLib.Variant("(ia{sv}av)", (i, {"label": GLib.Variant("s", label)}, []))
                for i, label in ENTRIES]
    root = (0, {"children-display": GLib.Variant("s", "submenu")}, children)
    return GLib.Variant("(u(ia{sv}av))", (1, root))

def on_call(conn, sender, path, iface, method, params, invocation):
    args = params.unpack()
    if method in ("Activate", "SecondaryActivate", "ContextMenu"):
        log(method.lower(), *args)
        invocation.return_value(None)
    elif method == "Scroll":
        log("scroll", *args)
        invocation.return_value(None)
    elif method == "GetLayout":
        invocation.return_value(layout())
    elif method == "GetGroupProperties":
        props = [(i, {"label": GLib.Variant("s", label)}) for i, label in ENTRIES]
        invocation.return_value(GLib.Variant("(a(ia{sv}))", (props,)))
    elif method == "Event":
        log("menu-event", args[0], args[1])
        invocation.return_value(None)
    elif method == "AboutToShow":
        invocation.return_value(GLib.Variant("(b)", (False,)))
    else:
        invocation.return_dbus_error("org.freedesktop.DBus.Error.UnknownMethod", method)

def on_get(conn, sender, path, iface, name):
    return (ITEM if iface == "org.kde.StatusNotifierItem" else MENU).get(name)

bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
node = Gio.DBusNodeInfo.new_for_xml(XML)
bus.register_object("/StatusNotifierItem", node.lookup_interface("org.kde.StatusNotifierItem"),
                    on_call, on_get, None)
bus.register_object("/MenuBar", node.lookup_interface("com.canonical.dbusmenu"),
                    on_call, on_get, None)
name = "org.kde.StatusNotifierItem-%d-1" % os.getpid()
bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
              "RequestName", GLib.Variant("(su)", (name, 4)), None, 0, -1, None)
bus.call_sync("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher",
              "org.kde.StatusNotifierWatcher", "RegisterStatusNotifierItem",
              GLib.Variant("(s)", (name,)), None, 0, -1, None)
log("ready", name)
GLib.MainLoop().run()
"#;

/// The fake item's process; killed on drop.
struct FakeItem {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl FakeItem {
    fn start(desktop: &HeadlessDesktop, dir: &Path) -> FakeItem {
        let python = gi_python();
        let script = dir.join("fake_item.py");
        std::fs::File::create(&script)
            .and_then(|mut file| file.write_all(FAKE_ITEM_PY.as_bytes()))
            .expect("write the fake item script");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(TITLE)
            .envs(desktop.env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {}: {error}", python.display()));
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        FakeItem { child, lines }
    }

    /// Waits for an output line starting with `prefix`; returns it.
    fn expect_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        let status = self.child.try_wait().ok().flatten();
        panic!("fake item never printed {prefix:?}; printed {seen:?}; exit status {status:?}");
    }
}

impl Drop for FakeItem {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A python3 that has PyGObject (the system one; pyenv shims may lack it).
fn gi_python() -> PathBuf {
    for candidate in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import gi; gi.require_version('Gio', '2.0')"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if ok {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "no python3 with PyGObject for the fake tray item: install python3-gi \
         (apt-get install -y --no-install-recommends python3-gi)"
    );
}

#[test]
fn desktop_shows_a_registered_status_notifier_item() {
    if let Err(message) = HeadlessDesktop::available() {
        panic!("{message}");
    }
    let started = Instant::now();
    let desktop = HeadlessDesktop::start();
    let up = started.elapsed();
    assert!(desktop.name_has_owner(WATCHER), "no {WATCHER}");
    assert_eq!(desktop.registered_items(), Vec::<String>::new());

    let scratch = tempfile::tempdir().expect("temp dir");
    let mut fake = FakeItem::start(&desktop, scratch.path());
    let ready = fake.expect_line("ready ");
    let bus_name = ready.trim_start_matches("ready ").to_owned();

    let items = desktop.wait_for_items(1, WAIT);
    let registered = started.elapsed();
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    eprintln!("registered item: {item}");

    let properties = desktop.item_properties(item);
    assert_eq!(
        properties.string("Title").as_deref(),
        Some(TITLE),
        "{}",
        properties.raw
    );
    assert_eq!(properties.string("Status").as_deref(), Some("Active"));
    assert_eq!(properties.string("Menu").as_deref(), Some("/MenuBar"));
    let tooltip = properties.get("ToolTip").expect("a ToolTip");
    assert!(tooltip.contains("harness tooltip"), "{tooltip}");
    assert!(
        properties
            .get("IconPixmap")
            .is_some_and(|p| p.contains("22, 22"))
    );

    let layout = desktop.menu_layout(item);
    assert!(
        layout.contains("'Open Nexus'") && layout.contains("'Quit'"),
        "{layout}"
    );
    desktop.menu_click(item, 2);
    assert_eq!(fake.expect_line("menu-event"), "menu-event 2 clicked");
    desktop.activate(item, 1200, 10);
    assert_eq!(fake.expect_line("activate"), "activate 1200 10");

    // Give the panel a moment to draw the icon, then keep the picture.
    thread::sleep(Duration::from_millis(500));
    let shot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/headless_desktop.png");
    let _ = std::fs::remove_file(&shot);
    desktop.screenshot(&shot);
    let bytes = std::fs::read(&shot).expect("read the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {}",
        shot.display()
    );
    assert!(bytes.len() > 1000, "screenshot only {} bytes", bytes.len());

    // The item leaves the watcher when its process goes away.
    drop(fake);
    let deadline = Instant::now() + WAIT;
    while !desktop.registered_items().is_empty() {
        assert!(
            Instant::now() < deadline,
            "item still registered: {:?}",
            desktop.registered_items()
        );
        thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "desktop up {up:?}, item registered after {registered:?}, total {:?}; {bus_name}; screenshot {}",
        started.elapsed(),
        shot.display()
    );
}
