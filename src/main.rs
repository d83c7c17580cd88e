//! `opencode-nexus`: parses the command line, then either becomes the resident
//! daemon or hands the command to the running one.

use clap::Parser;
use opencode_nexus::cli::{self, Cli, Command, exit_code};
use opencode_nexus::config::{Config, ServerMode};
use opencode_nexus::daemon::{self, DaemonSetup};
use opencode_nexus::ipc::instance::InstanceError;
use opencode_nexus::paths::Paths;
use opencode_nexus::server::client::Secret;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = Paths::from_env();
    let code = match cli.command.unwrap_or(Command::Daemon { no_tray: false }) {
        Command::Daemon { no_tray } => run_daemon(paths, no_tray),
        Command::Password {
            action: cli::PasswordCommand::Set,
        } => match Config::load(&paths) {
            Ok(loaded) => cli::set_password(&loaded.config.server.password_file),
            Err(_) => cli::set_password(&paths.password_file()),
        },
        Command::Autostart { action } => cli::autostart(&paths, action),
        Command::Popover => cli::run_popover(),
        command => runtime(false).block_on(cli::run_client(&paths, command)),
    };
    ExitCode::from(code)
}

fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    let mut builder = if multi_thread {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        // The daemon is mostly idle; two workers are plenty and keep memory low.
        b.worker_threads(2);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder
        .enable_all()
        .build()
        .expect("cannot start the async runtime")
}

fn run_daemon(paths: Paths, no_tray: bool) -> u8 {
    opencode_nexus::logging::init(&paths);
    let loaded = match Config::load(&paths) {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            return exit_code::BAD_CONFIG;
        }
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let config = loaded.config;
    let attach_password = (config.server.mode == ServerMode::Attach)
        .then(|| read_attach_password(&config.server.password_file))
        .flatten();
    let setup = DaemonSetup {
        paths,
        config,
        path_var: std::env::var_os("PATH"),
        attach_password,
        tray: !no_tray,
    };
    match runtime(true).block_on(daemon::run(setup)) {
        Ok(()) => exit_code::OK,
        Err(e @ InstanceError::AlreadyRunning { .. }) => {
            eprintln!("{e}");
            exit_code::OK
        }
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            exit_code::FAILURE
        }
    }
}

/// OPENCODE_SERVER_PASSWORD wins; otherwise the password file (which should be 0600).
fn read_attach_password(file: &std::path::Path) -> Option<Secret> {
    if let Some(pw) =
        std::env::var_os("OPENCODE_SERVER_PASSWORD").and_then(|v| v.into_string().ok())
        && !pw.is_empty()
    {
        return Some(Secret::new(pw));
    }
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(file).ok()?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            "{} is readable by other users; run `chmod 600 {}`",
            file.display(),
            file.display()
        );
    }
    let text = std::fs::read_to_string(file).ok()?;
    let pw = text.trim_end_matches(['\n', '\r']);
    (!pw.is_empty()).then(|| Secret::new(pw))
}
