//! A throw-away headless desktop for tray tests: Xvfb, a private D-Bus
//! session bus and `xfce4-panel` with the systray plugin, which owns
//! `org.kde.StatusNotifierWatcher` (xfce4-panel 4.18) and shows
//! StatusNotifierItems the way a real desktop does.
//!
//! The API is synchronous (std::process plus polling). It blocks for about
//! 1–3 s in [`HeadlessDesktop::start`] and up to a few seconds per helper, so
//! from a `#[tokio::test]` call it directly (fine in a test) or through
//! `tokio::task::spawn_blocking`.
//!
//! ```ignore
//! let desktop = HeadlessDesktop::start();
//! let mut tray = Command::new(nexus_binary()).envs(desktop.env()).spawn()?;
//! let item = desktop.wait_for_items(1, Duration::from_secs(20)).remove(0);
//! assert_eq!(desktop.item_properties(&item).string("Title").as_deref(), Some("OpenCode"));
//! desktop.screenshot("target/test-artifacts/tray.png");
//! ```
//!
//! Everything runs in its own process group under a private temp dir (HOME,
//! XDG dirs, runtime dir, logs): nothing is written to the real home, and
//! drop kills each group it started (panel, then bus, then X server) and
//! removes the dir. Packages: [`DESKTOP_TEST_PACKAGES`] (also in
//! `scripts/common.sh`).

use std::{
    collections::BTreeMap,
    ffi::OsStr,
    fs,
    io::{BufRead, BufReader, Read},
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, ChildStdout, Command, Output, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use tempfile::TempDir;

/// Debian packages the harness needs; mirrors `DESKTOP_TEST_PACKAGES` in
/// `scripts/common.sh`.
pub const DESKTOP_TEST_PACKAGES: &[&str] = &[
    "xvfb",
    "dbus",
    "dbus-x11",
    "xfce4-panel",
    "libglib2.0-bin",
    "imagemagick",
    "x11-utils",
    "xdotool",
    "dunst",
    "python3-gi",
];

/// The watcher's well-known name, its object path and interface.
pub const WATCHER: &str = "org.kde.StatusNotifierWatcher";
const WATCHER_PATH: &str = "/StatusNotifierWatcher";
const ITEM_IFACE: &str = "org.kde.StatusNotifierItem";
const MENU_IFACE: &str = "com.canonical.dbusmenu";

/// Each start-up step (X server, bus, watcher) gets this long: the whole
/// desktop normally needs 1–3 s, much more on a loaded 2-core machine.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// One `gdbus` / `import` call.
const TOOL_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

/// Screen geometry of the X server.
pub const SCREEN: &str = "1280x800x24";

/// What `HeadlessDesktop::available` checks: (binary or file, package).
const REQUIRED: &[(&str, &str)] = &[
    ("Xvfb", "xvfb"),
    ("dbus-daemon", "dbus"),
    ("xfce4-panel", "xfce4-panel"),
    ("gdbus", "libglib2.0-bin"),
    ("import", "imagemagick"),
];

/// A running headless desktop. See the module docs.
pub struct HeadlessDesktop {
    display: String,
    bus_address: String,
    /// Root of everything private: `run/` (0700, XDG_RUNTIME_DIR), `home/`,
    /// `config/`, `data/`, `cache/`, `logs/`.
    dir: TempDir,
    /// Started processes, each the leader of its own process group, in
    /// start order (killed in reverse).
    children: Vec<(&'static str, Child)>,
}

/// An item's `org.kde.StatusNotifierItem` properties as `gdbus` prints them.
#[derive(Debug, Clone)]
pub struct ItemProperties {
    /// The whole `GetAll` reply, e.g. `({'Title': <'x'>, ...},)`.
    pub raw: String,
    /// Property name → its value in GVariant text form, the `<…>` variant
    /// wrapper removed (e.g. `'x'`, `@a(iiay) []`, `objectpath '/MenuBar'`).
    pub values: BTreeMap<String, String>,
}

impl ItemProperties {
    /// A property's value text (see [`ItemProperties::values`]).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A string or object-path property without its quotes / type prefix.
    pub fn string(&self, name: &str) -> Option<String> {
        let value = self.get(name)?;
        let value = value.strip_prefix("objectpath ").unwrap_or(value);
        unquote(value)
    }
}

impl HeadlessDesktop {
    /// `Ok` when every binary the harness needs is installed; otherwise an
    /// error naming the missing packages and the command that installs them.
    pub fn available() -> Result<(), String> {
        let mut missing: Vec<String> = Vec::new();
        for (binary, package) in REQUIRED {
            if find_binary(binary).is_none() {
                missing.push(format!("{binary} (package {package})"));
            }
        }
        if find_libexec("xfce4/panel/plugins/libsystray.so").is_none() {
            missing.push("the systray panel plugin (package xfce4-panel)".into());
        }
        if find_libexec("xfce4/xfconf/xfconfd").is_none() {
            missing.push("xfconfd (package xfconf)".into());
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the headless desktop cannot run, missing: {}. Install with \
                 `apt-get install -y --no-install-recommends {}` (the list is \
                 DESKTOP_TEST_PACKAGES in scripts/common.sh).",
                missing.join(", "),
                DESKTOP_TEST_PACKAGES.join(" ")
            ))
        }
    }

    /// Starts X, the bus and the panel, and returns once the panel's systray
    /// owns `org.kde.StatusNotifierWatcher`. Panics with the reason (and the
    /// logs of what failed) when something is missing or does not come up.
    pub fn start() -> HeadlessDesktop {
        if let Err(message) = Self::available() {
            panic!("{message}");
        }
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("nexus-desktop-")
            .tempdir()
            .expect("create the headless desktop's temp dir");
        for sub in ["run", "home", "config", "data", "cache", "logs"] {
            fs::create_dir_all(dir.path().join(sub)).expect("create a desktop dir");
        }
        fs::set_permissions(dir.path().join("run"), fs::Permissions::from_mode(0o700))
            .expect("chmod 0700 the runtime dir");
        let mut desktop = HeadlessDesktop {
            display: String::new(),
            bus_address: String::new(),
            dir,
            children: Vec::new(),
        };

        // 1. X: `-displayfd 1` makes Xvfb pick a free display itself (its
        // lock files arbitrate between concurrent tests) and print the
        // number on stdout once it accepts connections.
        let mut xvfb = desktop
            .command("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                SCREEN,
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(desktop.log_file("xvfb"))
            .spawn()
            .expect("spawn Xvfb");
        let stdout = xvfb.stdout.take().expect("Xvfb stdout");
        desktop.children.push(("Xvfb", xvfb));
        let line = desktop.first_line(stdout, "Xvfb", "xvfb");
        let number: u32 = line.trim().parse().unwrap_or_else(|_| {
            desktop.fail(
                &format!("Xvfb printed {line:?} instead of a display number"),
                &["xvfb"],
            )
        });
        desktop.display = format!(":{number}");

        // 2. The bus. It gets the private env so that services it activates
        // (xfconfd, which stores the panel's config) stay in the temp dir.
        let bus_socket = desktop.runtime_dir().join("bus");
        let mut dbus = desktop
            .command("dbus-daemon")
            .arg("--session")
            .arg("--nofork")
            .arg(format!("--address=unix:path={}", bus_socket.display()))
            .arg("--print-address=1")
            .stdout(Stdio::piped())
            .stderr(desktop.log_file("dbus"))
            .spawn()
            .expect("spawn dbus-daemon");
        let stdout = dbus.stdout.take().expect("dbus-daemon stdout");
        desktop.children.push(("dbus-daemon", dbus));
        desktop.bus_address = desktop
            .first_line(stdout, "dbus-daemon", "dbus")
            .trim()
            .to_owned();

        // 3. The panel with the systray plugin (which owns the watcher).
        let panel_xml = desktop
            .dir
            .path()
            .join("config/xfce4/xfconf/xfce-perchannel-xml/xfce4-panel.xml");
        fs::create_dir_all(panel_xml.parent().expect("parent")).expect("create the xfconf dir");
        fs::write(&panel_xml, PANEL_XML).expect("write the panel config");
        let panel = desktop
            .command("xfce4-panel")
            .arg("--disable-wm-check")
            .stdout(desktop.log_file("panel"))
            .stderr(desktop.log_file("panel"))
            .spawn()
            .expect("spawn xfce4-panel");
        desktop.children.push(("xfce4-panel", panel));
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if desktop.name_has_owner(WATCHER) {
                break;
            }
            desktop.check_alive(&["panel", "dbus"]);
            if Instant::now() > deadline {
                desktop.fail(
                    &format!("{WATCHER} not owned after {STEP_TIMEOUT:?}"),
                    &["panel", "dbus"],
                );
            }
            thread::sleep(POLL);
        }
        eprintln!(
            "headless desktop on {} up in {:?} (bus {}, logs {})",
            desktop.display,
            started.elapsed(),
            desktop.bus_address,
            desktop.dir.path().join("logs").display()
        );
        desktop
    }

    /// The X display, e.g. `:3`.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The private session bus address.
    pub fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// The private 0700 `XDG_RUNTIME_DIR`.
    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// What a process under test needs to live on this desktop: `DISPLAY`,
    /// `DBUS_SESSION_BUS_ADDRESS`, `XDG_RUNTIME_DIR` and `NO_AT_BRIDGE=1`
    /// (no accessibility bus). Its HOME/XDG config are left to the caller.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DISPLAY", self.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus_address.clone()),
            ("XDG_RUNTIME_DIR", self.runtime_dir().display().to_string()),
            ("NO_AT_BRIDGE", "1".into()),
        ]
    }

    /// The panel's output so far (for failure messages).
    pub fn panel_log(&self) -> String {
        self.read_log("panel")
    }

    /// Whether `name` has an owner on the private bus.
    pub fn name_has_owner(&self, name: &str) -> bool {
        self.gdbus_call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            &[name],
        )
        .is_ok_and(|reply| reply.contains("true"))
    }

    /// `gdbus call` on the private bus; `Ok(stdout)` or `Err(stderr)`.
    /// `args` follow a `--`, so negative numbers are safe.
    pub fn gdbus_call(
        &self,
        dest: &str,
        path: &str,
        method: &str,
        args: &[&str],
    ) -> Result<String, String> {
        let mut command = Command::new("gdbus");
        command
            .args(["call", "--address", &self.bus_address, "--timeout", "10"])
            .args([
                "--dest",
                dest,
                "--object-path",
                path,
                "--method",
                method,
                "--",
            ])
            .args(args)
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
        let output = run_with_timeout(command, TOOL_TIMEOUT)?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(format!(
                "gdbus {method} on {dest} {path} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    /// The watcher's `RegisteredStatusNotifierItems`, as the watcher stores
    /// them: `BUS_NAME/OBJECT/PATH` (e.g. `:1.6/StatusNotifierItem`) or just
    /// a bus name. Panics if the watcher does not answer.
    pub fn registered_items(&self) -> Vec<String> {
        let reply = self
            .gdbus_call(
                WATCHER,
                WATCHER_PATH,
                "org.freedesktop.DBus.Properties.Get",
                &[WATCHER, "RegisteredStatusNotifierItems"],
            )
            .unwrap_or_else(|error| self.fail(&error, &["panel"]));
        // `(<['a', 'b']>,)` or `(<@as []>,)`.
        split_top_level(strip_wrapper(&reply))
            .into_iter()
            .filter_map(|entry| unquote(&entry))
            .collect()
    }

    /// Polls until at least `count` items are registered; returns them.
    /// Panics with the panel log on timeout.
    pub fn wait_for_items(&self, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let items = self.registered_items();
            if items.len() >= count {
                return items;
            }
            if Instant::now() > deadline {
                self.fail(
                    &format!("{count} item(s) not registered after {timeout:?}, have {items:?}"),
                    &["panel"],
                );
            }
            thread::sleep(POLL);
        }
    }

    /// `GetAll` of `org.kde.StatusNotifierItem` on an item (as returned by
    /// [`registered_items`](Self::registered_items)): Title, ToolTip,
    /// IconName/IconPixmap, Status, Menu, ...
    pub fn item_properties(&self, item: &str) -> ItemProperties {
        let (dest, path) = split_item(item);
        let raw = self
            .gdbus_call(
                dest,
                path,
                "org.freedesktop.DBus.Properties.GetAll",
                &[ITEM_IFACE],
            )
            .unwrap_or_else(|error| panic!("properties of {item}: {error}"));
        let mut values = BTreeMap::new();
        for entry in split_top_level(strip_wrapper(&raw)) {
            let Some((key, value)) = split_dict_entry(&entry) else {
                continue;
            };
            let value = value
                .strip_prefix('<')
                .and_then(|v| v.strip_suffix('>'))
                .unwrap_or(value);
            if let Some(key) = unquote(key) {
                values.insert(key, value.trim().to_owned());
            }
        }
        ItemProperties { raw, values }
    }

    /// The item's `Menu` object path (panics if it has none).
    pub fn menu_path(&self, item: &str) -> String {
        self.item_properties(item)
            .string("Menu")
            .unwrap_or_else(|| panic!("item {item} has no Menu property"))
    }

    /// `com.canonical.dbusmenu.GetLayout 0 -1 []` on the item's menu: the
    /// whole tree in GVariant text, e.g.
    /// `(uint32 3, (0, {...}, [<(1, {'label': <'Quit'>}, [])>]))`.
    pub fn menu_layout(&self, item: &str) -> String {
        let (dest, _) = split_item(item);
        let menu = self.menu_path(item);
        self.gdbus_call(
            dest,
            &menu,
            &format!("{MENU_IFACE}.GetLayout"),
            &["0", "-1", "[]"],
        )
        .unwrap_or_else(|error| panic!("menu layout of {item}: {error}"))
    }

    /// Clicks menu entry `id` the way a panel does
    /// (`com.canonical.dbusmenu.Event id "clicked" <0> 0`).
    pub fn menu_click(&self, item: &str, id: i32) {
        let (dest, _) = split_item(item);
        let menu = self.menu_path(item);
        self.gdbus_call(
            dest,
            &menu,
            &format!("{MENU_IFACE}.Event"),
            &[&id.to_string(), "clicked", "<0>", "0"],
        )
        .unwrap_or_else(|error| panic!("click menu entry {id} of {item}: {error}"));
    }

    /// Tells the item its menu is about to open, as a panel does before
    /// showing it (`com.canonical.dbusmenu.AboutToShow 0`).
    pub fn menu_about_to_show(&self, item: &str) {
        let (dest, _) = split_item(item);
        let menu = self.menu_path(item);
        self.gdbus_call(dest, &menu, &format!("{MENU_IFACE}.AboutToShow"), &["0"])
            .unwrap_or_else(|error| panic!("AboutToShow on {item}: {error}"));
    }

    /// A primary click on the icon at screen position (x, y)
    /// (`org.kde.StatusNotifierItem.Activate`).
    pub fn activate(&self, item: &str, x: i32, y: i32) {
        let (dest, path) = split_item(item);
        self.gdbus_call(
            dest,
            path,
            &format!("{ITEM_IFACE}.Activate"),
            &[&x.to_string(), &y.to_string()],
        )
        .unwrap_or_else(|error| panic!("activate {item}: {error}"));
    }

    /// Saves the whole screen as PNG at `path` (parent dirs are created)
    /// with ImageMagick's `import`. Panics if it fails.
    pub fn screenshot(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create the screenshot dir");
        }
        let mut command = Command::new(import_binary());
        command
            .args(["-display", &self.display, "-window", "root"])
            .arg(format!("png:{}", path.display()));
        match run_with_timeout(command, TOOL_TIMEOUT) {
            Ok(output) if output.status.success() => {}
            Ok(output) => panic!(
                "screenshot to {} failed ({}): {}",
                path.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(error) => panic!("screenshot to {}: {error}", path.display()),
        }
    }

    /// A command with the desktop's private environment (used for the
    /// desktop's own processes): own process group, HOME and XDG dirs in the
    /// temp dir, so nothing touches the real home.
    fn command(&self, program: &str) -> Command {
        let root = self.dir.path();
        let mut command = Command::new(program);
        command
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("LANG", "C.UTF-8")
            .env("HOME", root.join("home"))
            .env("XDG_CONFIG_HOME", root.join("config"))
            .env("XDG_DATA_HOME", root.join("data"))
            .env("XDG_CACHE_HOME", root.join("cache"))
            .env("XDG_RUNTIME_DIR", root.join("run"))
            .env("NO_AT_BRIDGE", "1")
            .stdin(Stdio::null())
            .process_group(0);
        if !self.display.is_empty() {
            command.env("DISPLAY", &self.display);
        }
        if !self.bus_address.is_empty() {
            command.env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address);
        }
        command
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("logs").join(format!("{name}.log"))
    }

    fn log_file(&self, name: &str) -> fs::File {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(name))
            .expect("open a desktop log")
    }

    fn read_log(&self, name: &str) -> String {
        fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// Waits for the first stdout line of a just-started child.
    fn first_line(&self, stdout: ChildStdout, what: &str, log: &str) -> String {
        match first_stdout_line(stdout, STEP_TIMEOUT) {
            Ok(line) if !line.trim().is_empty() => line,
            Ok(_) => self.fail(&format!("{what} exited before it was ready"), &[log]),
            Err(_) => self.fail(&format!("{what} not ready after {STEP_TIMEOUT:?}"), &[log]),
        }
    }

    /// Panics if one of the started processes has exited.
    fn check_alive(&mut self, logs: &[&str]) {
        let mut dead = Vec::new();
        for (name, child) in &mut self.children {
            if let Ok(Some(status)) = child.try_wait() {
                dead.push(format!("{name} exited ({status})"));
            }
        }
        if !dead.is_empty() {
            self.fail(&dead.join(", "), logs);
        }
    }

    /// Panics with `message` and the named logs.
    fn fail(&self, message: &str, logs: &[&str]) -> ! {
        let mut text = format!("headless desktop (display {:?}): {message}", self.display);
        for log in logs {
            let content = self.read_log(log);
            let tail: Vec<&str> = content.lines().rev().take(40).collect();
            text.push_str(&format!(
                "\n--- {log}.log (last {} lines) ---\n",
                tail.len()
            ));
            for line in tail.into_iter().rev() {
                text.push_str(line);
                text.push('\n');
            }
        }
        panic!("{text}");
    }
}

impl Drop for HeadlessDesktop {
    fn drop(&mut self) {
        // Panel (and its plugin wrappers) first, then the bus (and the
        // services it activated, e.g. xfconfd), then X.
        for (_, child) in self.children.iter_mut().rev() {
            let group = child.id() as libc::pid_t;
            // SAFETY: kill(2) on a process group this struct created.
            unsafe { libc::kill(-group, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(3);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            // SAFETY: as above; stragglers in the group get SIGKILL.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One top panel: an expanding separator pushes the systray and a clock to
/// the right.
const PANEL_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="28"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
        <value type="int" value="2"/>
        <value type="int" value="3"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="separator">
      <property name="expand" type="bool" value="true"/>
      <property name="style" type="uint" value="0"/>
    </property>
    <property name="plugin-2" type="string" value="systray"/>
    <property name="plugin-3" type="string" value="clock"/>
  </property>
</channel>
"#;

fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A file under one of the usual lib dirs (multiarch or not).
fn find_libexec(relative: &str) -> Option<PathBuf> {
    let mut roots = vec![PathBuf::from("/usr/lib"), PathBuf::from("/usr/libexec")];
    if let Ok(entries) = fs::read_dir("/usr/lib") {
        roots.extend(entries.flatten().map(|entry| entry.path()).filter(|path| {
            path.file_name()
                .and_then(OsStr::to_str)
                .is_some_and(|n| n.ends_with("-linux-gnu"))
        }));
    }
    roots
        .into_iter()
        .map(|root| root.join(relative))
        .find(|path| path.exists())
}

/// ImageMagick's `import`; `/usr/bin/import` first, since `/usr/local/bin`
/// may hold unrelated stand-ins for ImageMagick tools.
fn import_binary() -> PathBuf {
    let system = PathBuf::from("/usr/bin/import");
    if system.is_file() {
        system
    } else {
        find_binary("import").unwrap_or_else(|| "import".into())
    }
}

/// Runs `command` to completion with piped output, killing it after
/// `timeout`.
fn run_with_timeout(mut command: Command, timeout: Duration) -> Result<Output, String> {
    let name = format!("{:?}", command.get_program());
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("spawn {name}: {error}"))?;
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = stdout.read_to_end(&mut buffer);
        buffer
    });
    let err = thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = stderr.read_to_end(&mut buffer);
        buffer
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{name} timed out after {timeout:?}"));
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(error) => return Err(format!("wait for {name}: {error}")),
        }
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// `BUS/PATH` → (bus, path); a bare bus name uses `/StatusNotifierItem`.
fn split_item(item: &str) -> (&str, &str) {
    match item.find('/') {
        Some(slash) => (&item[..slash], &item[slash..]),
        None => (item, "/StatusNotifierItem"),
    }
}

/// `(<X>,)` / `(X,)` → the inside of X's outermost brackets:
/// `({'a': <1>},)` → `'a': <1>`, `(<['x']>,)` → `'x'`.
fn strip_wrapper(reply: &str) -> &str {
    let mut text = reply.trim();
    text = text.strip_prefix('(').unwrap_or(text);
    text = text.strip_suffix(')').unwrap_or(text).trim();
    text = text.strip_suffix(',').unwrap_or(text).trim();
    if let Some(inner) = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
        text = inner.trim();
    }
    if let Some(inner) = text.strip_prefix("@as ") {
        text = inner.trim();
    }
    if text.len() >= 2 && (text.starts_with('[') || text.starts_with('{')) {
        text = &text[1..text.len() - 1];
    }
    text
}

/// Splits GVariant text on the commas at nesting depth 0, outside quotes.
fn split_top_level(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quotes = Quotes::default();
    let mut current = String::new();
    for c in text.chars() {
        if quotes.consume(c) {
            current.push(c);
            continue;
        }
        match c {
            '(' | '[' | '{' | '<' => depth += 1,
            ')' | ']' | '}' | '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_owned());
    }
    parts
}

/// `'Key': value` → ("'Key'", "value"), splitting at the first `:` outside
/// quotes.
fn split_dict_entry(entry: &str) -> Option<(&str, &str)> {
    let mut quotes = Quotes::default();
    for (index, c) in entry.char_indices() {
        if !quotes.consume(c) && c == ':' {
            return Some((entry[..index].trim(), entry[index + 1..].trim()));
        }
    }
    None
}

/// Tracks GVariant text's quoted strings ('…' or "…", with `\` escapes).
#[derive(Default)]
struct Quotes {
    open: Option<char>,
    escaped: bool,
}

impl Quotes {
    /// Whether `c` belongs to a quoted string (its quotes included).
    fn consume(&mut self, c: char) -> bool {
        match self.open {
            Some(q) => {
                if self.escaped {
                    self.escaped = false;
                } else if c == '\\' {
                    self.escaped = true;
                } else if c == q {
                    self.open = None;
                }
                true
            }
            None if c == '\'' || c == '"' => {
                self.open = Some(c);
                true
            }
            None => false,
        }
    }
}

/// `'text'` or `"text"` → `text` (GVariant escapes `\'`, `\"`, `\\`
/// undone); anything else → None.
fn unquote(value: &str) -> Option<String> {
    let value = value.trim();
    let quote = value.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = value.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The first line a just-started child prints (`Ok("")` if it exited
/// first), waiting at most `timeout`. The rest of its output is drained in
/// the background, so the child never sees a closed pipe.
pub fn first_stdout_line(
    stdout: ChildStdout,
    timeout: Duration,
) -> Result<String, mpsc::RecvTimeoutError> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = sender.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    receiver.recv_timeout(timeout)
}
