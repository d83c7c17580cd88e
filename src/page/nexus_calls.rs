//! The page's calls to Nexus itself: the settings (read, validate, write),
//! the first-run checks (opencode, npm, memory, disk) and installing
//! opencode. Writing config.toml and start at login are the daemon's: the
//! popover asks it over its link, and the daemon runs `write_settings`.
//! Reading the server log's tail lives in `log_follow`.

use super::CallError;
use super::settings_guard::{self, Confirmation, GuardedChange};
use crate::config::Config;
use crate::config::form as settings_form;
use crate::ipc::protocol::PopoverSetup;
use crate::paths::Paths;
use crate::supervisor::locate;
use serde_json::{Map, Value, json};
use std::ffi::OsString;
use std::time::Duration;

/// Less available memory than this is worth a warning (OpenCode's server
/// and a language server or two).
const MEMORY_WANTED_MIB: u64 = 1024;
/// Less free disk than this in the home folder is worth a warning.
const DISK_WANTED_MIB: u64 = 2048;
/// How long `opencode --version` may take.
const VERSION_LIMIT: Duration = Duration::from_secs(15);
/// How long an npm install may take.
const INSTALL_LIMIT: Duration = Duration::from_secs(600);

/// What the calls need to know.
#[derive(Clone)]
pub struct NexusContext {
    pub paths: Paths,
    pub path_var: Option<OsString>,
}

fn invalid(message: String) -> CallError {
    CallError {
        kind: "server",
        message,
    }
}

/// `settings`: the file's values when it is valid; otherwise the ones in use
/// (the daemon's last good settings) with why the file is not.
pub fn settings(context: &NexusContext, setup: &PopoverSetup) -> Value {
    let paths = &context.paths;
    let defaults = settings_form::values(&Config::defaults(paths));
    let file = paths.config_file();
    let (values, problem) = match Config::load(paths) {
        Ok(loaded) => (settings_form::values(&loaded.config), None),
        Err(e) => (setup.settings.clone(), Some(e.to_string())),
    };
    json!({
        "values": values,
        "defaults": defaults,
        "file": file.display().to_string(),
        "exists": file.exists(),
        "problem": problem,
    })
}

/// The settings as the user last wrote them: `config.toml`, or, when the
/// file does not load (a bad hand edit), the settings in use.
pub fn current_config(context: &NexusContext, setup: &PopoverSetup) -> Config {
    let paths = &context.paths;
    Config::load(paths).map(|l| l.config).unwrap_or_else(|_| {
        settings_form::validate(&setup.settings, &paths.config_file(), paths)
            .map(|v| v.config)
            .unwrap_or_else(|_| Config::defaults(paths))
    })
}

/// A `save_settings` that passed validation, not yet written.
#[derive(Debug, Clone)]
pub struct PendingSave {
    valid: settings_form::ValidForm,
    /// Whether the managed server restarts (or attach reconnects) for it.
    restarts_server: bool,
    /// Guarded keys it changes: written only once the user confirms them
    /// in a dialog outside the page.
    pub guarded: Vec<GuardedChange>,
    /// What that dialog says.
    pub confirmation: Confirmation,
}

/// `save_settings`, first half: validated with the file's rules and
/// compared with the settings now in force. `Err` is the page's answer
/// already (an invalid form, or a guarded value too long to show).
pub fn prepare_save(
    context: &NexusContext,
    setup: &PopoverSetup,
    values: &Map<String, Value>,
) -> Result<PendingSave, Value> {
    let paths = &context.paths;
    let file = paths.config_file();
    let valid = settings_form::validate(values, &file, paths)
        .map_err(|e| json!({"saved": false, "key": e.key, "error": e.message}))?;
    // What the daemon runs with now, to tell whether the server restarts.
    let in_use = settings_form::validate(&setup.settings, &file, paths)
        .map(|v| v.config)
        .unwrap_or_else(|_| Config::defaults(paths));
    // Guarded keys are compared with the file (only the user writes it: by
    // hand, or through this dialog); a file that does not load counts as the
    // settings in use.
    let current = Config::load(paths)
        .map(|l| l.config)
        .unwrap_or_else(|_| in_use.clone());
    let guarded = settings_guard::guarded_changes(&current, &valid.config);
    let confirmation = settings_guard::confirmation(&guarded);
    if let Some((key, why)) = settings_guard::too_long_to_show(&guarded) {
        return Err(json!({"saved": false, "key": key, "error": why}));
    }
    Ok(PendingSave {
        restarts_server: in_use.server.needs_restart(&valid.config.server),
        valid,
        guarded,
        confirmation,
    })
}

/// `save_settings`, second half: writes the file. The daemon runs it when
/// the popover asks it to save (after any confirmation), then applies the
/// settings at once.
pub fn write_settings(context: &NexusContext, save: PendingSave) -> Result<Value, CallError> {
    let file = context.paths.config_file();
    settings_form::write(&context.paths, &save.valid.text)
        .map_err(|e| invalid(format!("cannot write {}: {e}", file.display())))?;
    tracing::info!("settings saved to {}", file.display());
    Ok(json!({
        "saved": true,
        "file": file.display().to_string(),
        "restarts_server": save.restarts_server,
        "warnings": save.valid.warnings,
    }))
}

/// The page's answer when the user cancels the dialog: nothing written.
pub fn cancelled_answer(save: &PendingSave, why: &str) -> Value {
    let keys: Vec<&str> = save.guarded.iter().map(|c| c.key).collect();
    json!({
        "saved": false,
        "cancelled": true,
        "key": keys.first(),
        "error": format!("{why}; nothing was saved ({})", keys.join(", ")),
    })
}

/// `setup_check`: what first-run setup shows.
pub async fn setup_check(context: &NexusContext) -> Value {
    let paths = context.paths.clone();
    let configured = Config::load(&paths)
        .ok()
        .and_then(|l| l.config.server.command);
    let opencode = match locate::find_opencode(
        configured.as_deref(),
        context.path_var.as_deref(),
        &paths.home,
    ) {
        Ok(path) => match opencode_version(&path).await {
            Ok(version) => json!({"path": path, "version": version, "problem": null}),
            Err(problem) => json!({"path": path, "version": null, "problem": problem}),
        },
        Err(problem) => json!({"path": null, "version": null, "problem": problem}),
    };
    let npm = locate::on_path("npm", context.path_var.as_deref());
    let install_command = format!("npm {}", locate::npm_install_args(&paths.home).join(" "));
    let home = paths.home.clone();
    let machine = tokio::task::spawn_blocking(move || machine_check(&home))
        .await
        .unwrap_or_else(|_| json!({}));
    json!({
        "opencode": opencode,
        "npm": npm,
        "install_command": install_command,
        "memory": machine["memory"],
        "disk": machine["disk"],
        "autostart": crate::autostart::is_enabled(&paths),
        "home": paths.home,
    })
}

async fn opencode_version(path: &std::path::Path) -> Result<String, String> {
    let run = tokio::process::Command::new(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(VERSION_LIMIT, run).await {
        Ok(Ok(out)) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            Ok(version.lines().last().unwrap_or_default().to_string())
        }
        Ok(Ok(out)) => Err(format!(
            "`{} --version` failed ({}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(Err(e)) => Err(format!("cannot run {}: {e}", path.display())),
        Err(_) => Err(format!(
            "`{} --version` did not answer within {} s",
            path.display(),
            VERSION_LIMIT.as_secs()
        )),
    }
}

/// Available memory, and free disk where the home folder is.
fn machine_check(home: &std::path::Path) -> Value {
    const MIB: u64 = 1024 * 1024;
    let memory = match sysinfo::System::new() {
        Ok(mut system) => {
            system.refresh_memory();
            let available = system.available_memory() / MIB;
            json!({
                "available_mib": available,
                "total_mib": system.total_memory() / MIB,
                "short": available < MEMORY_WANTED_MIB,
            })
        }
        Err(e) => json!({"error": e.to_string()}),
    };
    let disks = sysinfo::Disks::new_with_refreshed_list();
    let disk = disks
        .iter()
        .flat_map(|d| d.iter())
        .filter(|d| home.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| {
            let available = d.available_space() / MIB;
            json!({
                "path": d.mount_point(),
                "available_mib": available,
                "short": available < DISK_WANTED_MIB,
            })
        })
        .unwrap_or(json!(null));
    json!({"memory": memory, "disk": disk})
}

/// `install_opencode`: runs npm for this user; answers its last lines.
pub async fn install_opencode(context: &NexusContext) -> Result<Value, CallError> {
    let Some(npm) = locate::on_path("npm", context.path_var.as_deref()) else {
        return Err(invalid(
            "npm is not installed; install Node.js and npm first".into(),
        ));
    };
    let args = locate::npm_install_args(&context.paths.home);
    tracing::info!("installing opencode: npm {}", args.join(" "));
    let run = tokio::process::Command::new(&npm)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let (installed, output) = match tokio::time::timeout(INSTALL_LIMIT, run).await {
        Ok(Ok(out)) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.success(), text)
        }
        Ok(Err(e)) => (false, format!("cannot run {}: {e}", npm.display())),
        Err(_) => (
            false,
            format!("npm did not finish within {} s", INSTALL_LIMIT.as_secs()),
        ),
    };
    let tail: Vec<&str> = output.lines().rev().take(30).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Ok(json!({"installed": installed, "output": tail.join("\n")}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(home: &std::path::Path) -> NexusContext {
        let home = home.to_path_buf();
        NexusContext {
            paths: Paths::from_vars(|name| (name == "HOME").then(|| home.clone().into())),
            path_var: None,
        }
    }

    fn setup(context: &NexusContext) -> PopoverSetup {
        PopoverSetup {
            directories: Vec::new(),
            default_directory: "/".into(),
            keep_alive_secs: 120,
            hide_on_blur: true,
            settings: settings_form::values(&Config::defaults(&context.paths)),
        }
    }

    fn form(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn guarded_keys_are_compared_with_the_file_and_wait_for_confirmation() {
        let home = tempfile::tempdir().unwrap();
        let context = context(home.path());
        let setup = setup(&context);
        let file = context.paths.config_file();
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "[server]\ncommand = \"/opt/opencode\"\n").unwrap();

        // The same program as the file, another port: no confirmation.
        let same = prepare_save(
            &context,
            &setup,
            &form(&[
                ("server.command", json!("/opt/opencode")),
                ("server.port", json!(4096)),
            ]),
        )
        .unwrap();
        assert!(same.guarded.is_empty());

        // Another program: held for confirmation, and nothing written yet.
        let other = prepare_save(
            &context,
            &setup,
            &form(&[("server.command", json!("/tmp/attacker/opencode"))]),
        )
        .unwrap();
        assert_eq!(other.guarded.len(), 1);
        assert_eq!(other.guarded[0].old, "/opt/opencode");
        assert_eq!(other.guarded[0].new, "/tmp/attacker/opencode");
        assert!(
            std::fs::read_to_string(&file)
                .unwrap()
                .contains("/opt/opencode")
        );
        let cancelled = cancelled_answer(&other, "You did not confirm the change");
        assert_eq!(cancelled["saved"], false);
        assert_eq!(cancelled["cancelled"], true);
        assert_eq!(cancelled["key"], "server.command");
        // Confirmed: written as any save.
        let saved = write_settings(&context, other).unwrap();
        assert_eq!(saved["saved"], true);
        assert!(
            std::fs::read_to_string(&file)
                .unwrap()
                .contains("/tmp/attacker/opencode")
        );

        // A value too long to show whole is refused, naming the key.
        let long = format!("/{}", "x/".repeat(400));
        let refused = prepare_save(
            &context,
            &setup,
            &form(&[
                ("server.url", json!("http://127.0.0.1:4096")),
                ("server.password_file", json!(long)),
            ]),
        )
        .unwrap_err();
        assert_eq!(refused["saved"], false);
        assert_eq!(refused["key"], "server.password_file", "{refused}");
        assert!(refused["error"].as_str().unwrap().contains("config.toml"));
    }
}
