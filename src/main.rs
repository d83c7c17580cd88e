//! `opencode-nexus`: parses the command line, then either becomes the resident
//! daemon or hands the command to the running one.

use clap::Parser;
use opencode_nexus::cli::{self, Cli, Command, exit_code};
use opencode_nexus::config::Config;
use opencode_nexus::daemon::{self, DaemonSetup};
use opencode_nexus::ipc::instance::InstanceError;
use opencode_nexus::paths::Paths;
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
        Command::Remote { action } => cli::remote::run(&paths, action),
        Command::Popover => cli::run_popover(),
        Command::ServerKeeper { command } => opencode_nexus::supervisor::keeper::run(command),
        command => {
            opencode_nexus::platform::end_quietly_on_closed_stdout();
            runtime().block_on(cli::run_client(&paths, command))
        }
    };
    ExitCode::from(code)
}

/// The CLI's runtime, and the daemon's: one thread runs every task. The
/// daemon is idle nearly all the time and its work is small steps (an event,
/// a reply, a view); one thread means an idle heartbeat wakes one thread, not
/// a worker that then wakes the daemon loop on another. Blocking work (file
/// reads, process measurement) goes to tokio's blocking pool.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
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
    let setup = DaemonSetup {
        paths,
        config,
        path_var: std::env::var_os("PATH"),
        tray: !no_tray,
    };
    let run = move || match runtime().block_on(daemon::run(setup)) {
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
    };
    // macOS: the menu-bar item needs AppKit's loop on the main thread; the
    // daemon then runs on a thread of its own.
    #[cfg(target_os = "macos")]
    if !no_tray {
        return opencode_nexus::tray::run_on_main_thread(run);
    }
    run()
}
