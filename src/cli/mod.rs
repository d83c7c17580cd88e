//! The command line: argument parsing and the client side of each command.

pub mod exit_code;
pub mod remote;

use crate::core::popover_lifecycle::PopoverView;
use crate::ipc::client::{ClientError, Connection};
use crate::ipc::protocol::{Reply, Request, ServerAction};
use crate::paths::Paths;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "opencode-nexus",
    version,
    about = "A tiny system-tray companion for the OpenCode agent server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the resident process (the default when no command is given).
    Daemon {
        /// Run without a tray icon.
        #[arg(long)]
        no_tray: bool,
    },
    /// Show the server's and the agent's state.
    Status {
        /// Print JSON (the stable contract for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Control the managed server.
    Server {
        #[command(subcommand)]
        action: ServerCommand,
    },
    /// Prompt the agent and stream its reply.
    Ask {
        /// The prompt (several words are joined with spaces).
        #[arg(required = true)]
        text: Vec<String>,
        /// Project directory for a new session (default: server.directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Continue this session instead of starting a new one.
        #[arg(long)]
        session: Option<String>,
        /// PROVIDER/MODEL to use.
        #[arg(long)]
        model: Option<String>,
        /// Agent to use (e.g. build, plan).
        #[arg(long)]
        agent: Option<String>,
    },
    /// Wait until no session is busy and nothing waits for an answer.
    WaitIdle {
        /// Give up after this many seconds (exit code 4).
        #[arg(long)]
        timeout: Option<f64>,
    },
    /// Show the quick-chat popover (returns once it is on screen).
    Open {
        /// Open this session.
        #[arg(long)]
        session: Option<String>,
        /// Open one of the popover's pages: chat, settings, setup, logs or
        /// pair (a QR code to pair a phone with the remote gateway).
        #[arg(long, value_parser = ["chat", "settings", "setup", "logs", "pair"])]
        page: Option<String>,
    },
    /// CPU and memory of the managed server and its child processes, now.
    Metrics {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the quick-chat popover process (the daemon starts it by itself).
    Popover,
    /// Run the managed server under a keeper that stops whatever it leaves
    /// behind (the daemon starts it by itself; internal).
    #[command(name = "server-keeper", hide = true)]
    ServerKeeper {
        /// The server's program and arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// Show the server's log.
    Logs {
        /// Keep printing new lines.
        #[arg(long, short)]
        follow: bool,
    },
    /// Stop the daemon and its managed server.
    Quit,
    /// Manage the attach-mode password file.
    Password {
        #[command(subcommand)]
        action: PasswordCommand,
    },
    /// The remote gateway: its password, pairing a phone, devices, state.
    Remote {
        #[command(subcommand)]
        action: remote::RemoteCommand,
    },
    /// Start Nexus at login (or not).
    Autostart {
        #[command(subcommand)]
        action: AutostartCommand,
    },
    /// Print a report for troubleshooting (versions, OS, config, state history,
    /// recent restarts, the server's last log lines); it contains no secret.
    Diagnostics,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum AutostartCommand {
    Enable,
    Disable,
    Status,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum ServerCommand {
    Start,
    Stop,
    Restart,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum PasswordCommand {
    /// Read the password from standard input and store it (0600).
    Set,
}

/// Runs a client command against the daemon; returns the exit code.
pub async fn run_client(paths: &Paths, command: Command) -> u8 {
    let outcome = match command {
        Command::Status { json } => status(paths, json).await,
        Command::Server { action } => {
            let action = match action {
                ServerCommand::Start => ServerAction::Start,
                ServerCommand::Stop => ServerAction::Stop,
                ServerCommand::Restart => ServerAction::Restart,
            };
            simple(paths, Request::Server { action }).await
        }
        Command::Ask {
            text,
            dir,
            session,
            model,
            agent,
        } => {
            let directory = dir.map(|d| absolute(&d).display().to_string());
            let request = Request::Ask {
                text: text.join(" "),
                directory,
                session,
                model,
                agent,
            };
            ask(paths, request).await
        }
        Command::WaitIdle { timeout } => wait_idle(paths, timeout).await,
        Command::Logs { follow } => logs(paths, follow).await,
        Command::Quit => quit(paths).await,
        Command::Open { session, page } => {
            let view = page.as_deref().and_then(PopoverView::parse);
            simple_quiet(
                paths,
                Request::Open {
                    session,
                    anchor: None,
                    view,
                },
            )
            .await
        }
        Command::Metrics { json } => metrics(paths, json).await,
        Command::Diagnostics => diagnostics(paths).await,
        Command::Daemon { .. }
        | Command::Password { .. }
        | Command::Remote { .. }
        | Command::Autostart { .. }
        | Command::Popover
        | Command::ServerKeeper { .. } => {
            unreachable!("handled in main")
        }
    };
    match outcome {
        Ok(code) => code,
        Err(ClientError::NotRunning) => {
            eprintln!("{}", ClientError::NotRunning);
            exit_code::NOT_RUNNING
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit_code::FAILURE
        }
    }
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Prints an error reply and gives the failure code.
fn failed(message: &str) -> u8 {
    eprintln!("error: {message}");
    exit_code::FAILURE
}

fn unexpected(reply: Option<Reply>) -> u8 {
    match reply {
        Some(Reply::Error { message }) => failed(&message),
        Some(other) => failed(&format!("unexpected reply {other:?}")),
        None => failed("OpenCode Nexus closed the connection"),
    }
}

async fn status(paths: &Paths, json: bool) -> Result<u8, ClientError> {
    let mut conn = Connection::open(paths, &Request::Status {}).await?;
    match conn.next().await? {
        Some(Reply::Status { status, text }) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&status).unwrap_or_default()
                );
            } else {
                use std::io::IsTerminal;
                println!("{}", for_stdout(&text, std::io::stdout().is_terminal()));
            }
            Ok(exit_code::OK)
        }
        other => Ok(unexpected(other)),
    }
}

async fn metrics(paths: &Paths, json: bool) -> Result<u8, ClientError> {
    let mut conn = Connection::open(paths, &Request::Metrics {}).await?;
    match conn.next().await? {
        Some(Reply::Metrics { metrics, text }) => {
            if json {
                println!("{}", serde_json::to_string(&metrics).unwrap_or_default());
            } else {
                println!("{text}");
            }
            Ok(exit_code::OK)
        }
        other => Ok(unexpected(other)),
    }
}

async fn simple(paths: &Paths, request: Request) -> Result<u8, ClientError> {
    let mut conn = Connection::open(paths, &request).await?;
    match conn.next().await? {
        Some(Reply::Ok { message }) => {
            println!("{message}");
            Ok(exit_code::OK)
        }
        other => Ok(unexpected(other)),
    }
}

/// A request answered by one `Ok` that needs no printing.
async fn simple_quiet(paths: &Paths, request: Request) -> Result<u8, ClientError> {
    let mut conn = Connection::open(paths, &request).await?;
    match conn.next().await? {
        Some(Reply::Ok { .. }) => Ok(exit_code::OK),
        other => Ok(unexpected(other)),
    }
}

/// `opencode-nexus popover`: becomes the popover binary installed beside this one.
pub fn run_popover() -> u8 {
    let program = match crate::programs::popover_program() {
        Ok(program) => program,
        Err(e) => return failed(&e),
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = std::process::Command::new(&program).exec();
        failed(&format!("cannot run {}: {e}", program.display()))
    }
    #[cfg(not(unix))]
    {
        match std::process::Command::new(&program).status() {
            Ok(s) => s.code().unwrap_or(1).clamp(0, 255) as u8,
            Err(e) => failed(&format!("cannot run {}: {e}", program.display())),
        }
    }
}

/// Text from the agent or the server log, as it may go to stdout: on a
/// terminal its control sequences (an `ESC ]52;` writing the clipboard, a
/// carriage return hiding a line) and bidi/zero-width characters become
/// visible escapes; piped output stays byte for byte what was said.
fn for_stdout(text: &str, terminal: bool) -> std::borrow::Cow<'_, str> {
    if terminal {
        crate::core::visible_text::visible(text)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

async fn ask(paths: &Paths, request: Request) -> Result<u8, ClientError> {
    use std::io::IsTerminal;
    let mut conn = Connection::open(paths, &request).await?;
    let mut stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let mut ends_with_newline = true;
    let mut interrupted = false;
    loop {
        let reply = tokio::select! {
            reply = conn.next() => reply?,
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                eprintln!("\naborting…");
                conn.send(&Request::Abort {}).await?;
                continue;
            }
        };
        match reply {
            Some(Reply::Session { id }) => eprintln!("session {id}"),
            Some(Reply::Text { text }) => {
                let _ = stdout.write_all(for_stdout(&text, terminal).as_bytes());
                let _ = stdout.flush();
                ends_with_newline = text.ends_with('\n');
            }
            Some(Reply::Done) => {
                if !ends_with_newline {
                    println!();
                }
                return Ok(exit_code::OK);
            }
            Some(Reply::Aborted) => {
                if !ends_with_newline {
                    println!();
                }
                eprintln!("aborted");
                return Ok(if interrupted {
                    exit_code::INTERRUPTED
                } else {
                    exit_code::FAILURE
                });
            }
            other => {
                if !ends_with_newline {
                    println!();
                }
                return Ok(unexpected(other));
            }
        }
    }
}

async fn wait_idle(paths: &Paths, timeout: Option<f64>) -> Result<u8, ClientError> {
    let wait = async {
        let mut conn = Connection::open(paths, &Request::WaitIdle {}).await?;
        match conn.next().await? {
            Some(Reply::Ok { .. }) => Ok(exit_code::OK),
            other => Ok(unexpected(other)),
        }
    };
    match timeout {
        Some(secs) if secs.is_finite() && secs >= 0.0 => {
            match tokio::time::timeout(Duration::from_secs_f64(secs), wait).await {
                Ok(result) => result,
                Err(_) => {
                    eprintln!("still busy after {secs} s");
                    Ok(exit_code::TIMEOUT)
                }
            }
        }
        Some(secs) => Ok(failed(&format!(
            "--timeout {secs} is not a number of seconds"
        ))),
        None => wait.await,
    }
}

async fn logs(paths: &Paths, follow: bool) -> Result<u8, ClientError> {
    use std::io::IsTerminal;
    let terminal = std::io::stdout().is_terminal();
    let mut conn = Connection::open(paths, &Request::Logs { follow }).await?;
    loop {
        match conn.next().await? {
            Some(Reply::Log { line }) => println!("{}", for_stdout(&line, terminal)),
            Some(Reply::Done) | None => return Ok(exit_code::OK),
            other => return Ok(unexpected(other)),
        }
    }
}

async fn quit(paths: &Paths) -> Result<u8, ClientError> {
    let mut conn = Connection::open(paths, &Request::Quit {}).await?;
    let code = match conn.next().await? {
        Some(Reply::Ok { message }) => {
            println!("{message}");
            exit_code::OK
        }
        other => return Ok(unexpected(other)),
    };
    // Return only once the daemon process is really gone.
    for _ in 0..100 {
        if !crate::ipc::instance::is_running(paths) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(code)
}

async fn diagnostics(paths: &Paths) -> Result<u8, ClientError> {
    match Connection::open(paths, &Request::Diagnostics {}).await {
        Ok(mut conn) => match conn.next().await? {
            Some(Reply::Ok { message }) => {
                println!("{message}");
                Ok(exit_code::OK)
            }
            other => Ok(unexpected(other)),
        },
        Err(ClientError::NotRunning) => {
            // Still useful without a daemon: versions, OS and config.
            let (config, problem) = match crate::config::Config::load(paths) {
                Ok(loaded) => (Some(loaded.config), None),
                Err(e) => (None, Some(e.to_string())),
            };
            let log: Vec<String> = std::fs::read_to_string(paths.server_log())
                .map(|t| {
                    t.lines()
                        .rev()
                        .take(200)
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect()
                })
                .unwrap_or_default();
            println!(
                "{}",
                crate::diagnostics::report(&crate::diagnostics::DiagnosticsInput {
                    status: None,
                    config: config.as_ref(),
                    config_problem: problem,
                    server_log: &log,
                    secrets: &[],
                })
            );
            Ok(exit_code::OK)
        }
        Err(e) => Err(e),
    }
}

/// `autostart enable|disable|status`.
pub fn autostart(paths: &Paths, action: AutostartCommand) -> u8 {
    use crate::autostart;
    match action {
        AutostartCommand::Enable => {
            let program = match crate::programs::daemon_program() {
                Ok(p) => p,
                Err(e) => return failed(&e),
            };
            match autostart::enable(paths, &program) {
                Ok(entry) => {
                    println!("OpenCode Nexus will start at login ({})", entry.display());
                    exit_code::OK
                }
                Err(e) => failed(&e),
            }
        }
        AutostartCommand::Disable => match autostart::disable(paths) {
            Ok(true) => {
                println!("OpenCode Nexus will no longer start at login");
                exit_code::OK
            }
            Ok(false) => {
                println!("start at login was not enabled");
                exit_code::OK
            }
            Err(e) => failed(&e),
        },
        AutostartCommand::Status => {
            let state = autostart::status(paths);
            println!("{}", state.describe());
            match state {
                autostart::AutostartState::Broken { .. } => exit_code::FAILURE,
                _ => exit_code::OK,
            }
        }
    }
}

/// `password set`: reads one line from stdin into the password file (0600).
/// The daemon reads at most `PASSWORD_FILE_LIMIT` bytes of it, so a longer
/// password is refused here rather than stored and then not read.
pub fn set_password(file: &std::path::Path) -> u8 {
    use crate::config::PASSWORD_FILE_LIMIT;
    use std::io::{BufRead, Read};
    let mut line = Vec::new();
    // The cap also keeps `yes | opencode-nexus password set` from eating memory.
    let read = std::io::stdin()
        .lock()
        .take(PASSWORD_FILE_LIMIT + 3)
        .read_until(b'\n', &mut line);
    if read.is_err() {
        return failed("cannot read the password from standard input");
    }
    let Ok(line) = String::from_utf8(line) else {
        return failed("the password on standard input is not UTF-8 text");
    };
    let password = line.trim_end_matches(['\n', '\r']);
    if password.len() as u64 > PASSWORD_FILE_LIMIT {
        return failed(&format!(
            "the password is longer than {PASSWORD_FILE_LIMIT} bytes, the most Nexus reads from {}",
            file.display()
        ));
    }
    if password.is_empty() {
        return failed(
            "the password is empty (pipe it in: `printf %s \"$PW\" | opencode-nexus password set`)",
        );
    }
    if let Ok(meta) = std::fs::symlink_metadata(file)
        && !meta.file_type().is_file()
        && !meta.file_type().is_symlink()
    {
        return failed(&format!(
            "{} exists and is not a regular file; remove it or set server.password_file to another path",
            file.display()
        ));
    }
    if let Some(dir) = file.parent() {
        let _ = crate::paths::ensure_private_dir(dir);
    }
    let written = crate::safe_write::write_atomically(
        file,
        password.as_bytes(),
        crate::safe_write::Readers::Owner,
    );
    match written {
        Ok(()) => {
            println!("password stored in {}", file.display());
            exit_code::OK
        }
        Err(e) => failed(&format!("cannot write {}: {e}", file.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::for_stdout;

    #[test]
    fn output_for_a_terminal_shows_control_sequences_as_escapes_piped_output_stays_raw() {
        let line = "build ok\u{1b}]52;c;aGk=\u{7}\r\tdone\n";
        assert_eq!(
            for_stdout(line, true),
            "build ok\\u001b]52;c;aGk=\\u0007\\u000d\tdone\n"
        );
        assert_eq!(for_stdout("\u{9b}31m", true), "\\u009b31m");
        assert_eq!(for_stdout(line, false), line);
    }
}
