//! Start at login and the diagnostics report, through the real binary.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;
use support::mock_model::MockModel;
use support::nexus::{Nexus, managed_config, nexus_binary, nexus_env, stdout};
use support::opencode_server::{OpencodeServer, TestHome};

use support::nexus::run_in as run;

#[test]
fn autostart_enable_disable_and_status_tell_the_truth() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let entry = home.config_home().join("autostart/opencode-nexus.desktop");
    assert_eq!(
        stdout(&run(&home, &["autostart", "status"])).trim(),
        "disabled"
    );

    let out = run(&home, &["autostart", "enable"]);
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&entry).unwrap();
    let exec = text.lines().find_map(|l| l.strip_prefix("Exec=")).unwrap();
    assert_eq!(
        exec,
        format!("{} daemon", nexus_binary().display()),
        "starts this binary's daemon"
    );
    assert!(text.contains("NoDisplay=true"));
    let status = stdout(&run(&home, &["autostart", "status"]));
    assert!(status.starts_with("enabled:"), "{status}");
    if let Ok(check) = std::process::Command::new("desktop-file-validate")
        .arg(&entry)
        .output()
    {
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }

    assert_eq!(run(&home, &["autostart", "disable"]).status.code(), Some(0));
    assert!(!entry.exists());
    assert_eq!(
        stdout(&run(&home, &["autostart", "status"])).trim(),
        "disabled"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diagnostics_report_everything_but_the_managed_servers_password() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let nexus = Nexus::start(&home, &managed_config(&home.project_dir())).await;
    let status = nexus
        .wait_for_state("running", Duration::from_secs(90))
        .await;
    let pid = status["server"]["pid"].as_u64().unwrap();
    // The password the daemon gave its server, read from the server's environment.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let password = environ
        .split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"OPENCODE_SERVER_PASSWORD="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .expect("the server got a password");
    assert!(password.len() >= 32);

    let out = nexus.run(&["diagnostics"]).await;
    assert_eq!(out.status.code(), Some(0));
    let report = stdout(&out);
    assert!(
        !report.contains(&password),
        "the password leaked into diagnostics"
    );
    for part in [
        "OpenCode Nexus",
        "os:",
        "server: running",
        "state history",
        "config",
        "server.directory",
        "server log",
    ] {
        assert!(report.contains(part), "no {part:?} in:\n{report}");
    }
    assert!(
        report.contains("listening on http://127.0.0.1:"),
        "the server's log lines are included"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diagnostics_never_show_the_attach_password_and_work_without_a_daemon() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let server = OpencodeServer::start(&home, Some("s3cret-attach-pw")).await;
    let config = format!(
        "[server]\nmode = \"attach\"\nurl = {:?}\n",
        server.base_url()
    );
    let nexus = Nexus::start_with_env(
        &home,
        &config,
        &[("OPENCODE_SERVER_PASSWORD", "s3cret-attach-pw")],
    )
    .await;
    nexus
        .wait_for_state("running", Duration::from_secs(60))
        .await;
    let report = stdout(&nexus.run(&["diagnostics"]).await);
    assert!(report.contains("server: running"), "{report}");
    assert!(!report.contains("s3cret-attach-pw"), "{report}");
    drop(nexus);

    let out = run(&home, &["diagnostics"]);
    assert_eq!(out.status.code(), Some(0));
    let report = stdout(&out);
    assert!(
        report.contains("daemon: not running") && report.contains("server.mode = attach"),
        "{report}"
    );
}

/// The Python that has GLib's bindings (python3-gi): Debian's own, not a
/// pyenv or venv one first on PATH.
fn python_with_gi() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

#[test]
fn autostart_exec_of_a_path_with_every_special_character_round_trips() {
    // The binary, hard-linked into a directory whose name has everything the
    // Desktop Entry spec makes special: spaces, both quotes, backslashes,
    // `$`, a backtick and `%` (a field code's marker).
    let weird = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("autostart-{}", std::process::id()))
        .join(r#"My "Apps" it's \back\\slash $HOME `id` 100% done"#);
    let _ = std::fs::remove_dir_all(weird.parent().unwrap());
    std::fs::create_dir_all(&weird).unwrap();
    let program = weird.join("opencode-nexus");
    std::fs::hard_link(nexus_binary(), &program).unwrap();

    let home = TestHome::new("http://127.0.0.1:9/v1");
    let run_weird = |args: &[&str]| {
        std::process::Command::new(&program)
            .args(args)
            .env_clear()
            .envs(nexus_env(&home))
            .output()
            .unwrap()
    };
    let out = run_weird(&["autostart", "enable"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let entry = home.config_home().join("autostart/opencode-nexus.desktop");

    let check = std::process::Command::new("desktop-file-validate")
        .arg(&entry)
        .output()
        .expect("desktop-file-validate (desktop-file-utils)");
    let text = std::fs::read_to_string(&entry).unwrap();
    assert!(
        check.status.success() && check.stdout.is_empty(),
        "desktop-file-validate: {}\n{text}",
        String::from_utf8_lossy(&check.stdout)
    );

    // As GIO reads it: the key file's string escapes, `%%`, then the Exec
    // quoting through g_shell_parse_argv.
    let script = r#"
import json, sys
from gi.repository import GLib
keys = GLib.KeyFile()
keys.load_from_file(sys.argv[1], GLib.KeyFileFlags.NONE)
value = keys.get_string("Desktop Entry", "Exec")
ok, argv = GLib.shell_parse_argv(value)
print(json.dumps([arg.replace("%%", "%") for arg in argv]))
"#;
    let parsed = std::process::Command::new(python_with_gi())
        .args(["-c", script])
        .arg(&entry)
        .output()
        .expect("python3 with python3-gi");
    assert!(
        parsed.status.success(),
        "GLib could not parse the entry: {}\n{text}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let argv: Vec<String> = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(
        argv,
        [program.to_str().unwrap(), "daemon"],
        "the entry as written:\n{text}"
    );

    let status = stdout(&run_weird(&["autostart", "status"]));
    assert_eq!(
        status.trim(),
        format!(
            "enabled: {} starts {} at login",
            entry.display(),
            program.display()
        ),
    );
    let _ = std::fs::remove_dir_all(weird.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn nexus_log_is_private() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let nexus = Nexus::start(
        &home,
        "[server]\nmode = \"attach\"\nurl = \"http://127.0.0.1:9\"\n",
    )
    .await;
    use std::os::unix::fs::PermissionsExt;
    let log = nexus.state_dir.join("nexus.log");
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} is {mode:o}", log.display());
}
