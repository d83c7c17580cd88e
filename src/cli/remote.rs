//! `opencode-nexus remote …`: the remote gateway's account from the
//! command line — set the password, pair a phone, list and revoke devices,
//! show the state. These work on the account file directly (under its
//! lock), so they work whether or not the daemon or the gateway runs; the
//! gateway sees a change at once and closes what it ended. The work itself
//! is `remote::manage`'s, shared with the popover's pair and settings pages.

use super::exit_code;
use crate::config::{Config, RemoteConfig, RemoteTls};
use crate::paths::Paths;
use crate::remote::store::Store;
use crate::remote::{manage, password};
use clap::Subcommand;
use serde_json::json;

#[derive(Debug, Clone, Subcommand)]
pub enum RemoteCommand {
    /// Read a new password (at least 10 characters) from standard input and
    /// store only its Argon2id hash; signs every device out.
    Password,
    /// Make a one-time pairing code (5 minutes) and show it as a QR code.
    Pair {
        /// Print {"url","token","expires_in","fingerprint"} instead.
        #[arg(long)]
        json: bool,
    },
    /// List the signed-in devices.
    Devices {
        #[arg(long)]
        json: bool,
    },
    /// Sign a device out (its open page is closed at once).
    Revoke {
        /// The device's id (from `remote devices`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Sign every device out.
        #[arg(long)]
        all: bool,
    },
    /// Whether the gateway is on, where, its certificate, devices and recent sign-ins.
    Status {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(paths: &Paths, command: RemoteCommand) -> u8 {
    let remote = match Config::load(paths) {
        Ok(loaded) => loaded.config.remote,
        Err(e) => return failed(&e.to_string()),
    };
    let outcome = match command {
        RemoteCommand::Password => set_password(paths),
        RemoteCommand::Pair { json } => pair(paths, &remote, json),
        RemoteCommand::Devices { json } => devices(paths, json),
        RemoteCommand::Revoke { id, all } => revoke(paths, if all { None } else { id }),
        RemoteCommand::Status { json } => status(paths, &remote, json),
    };
    match outcome {
        Ok(()) => exit_code::OK,
        Err(e) => failed(&e),
    }
}

fn failed(message: &str) -> u8 {
    eprintln!("error: {message}");
    exit_code::FAILURE
}

fn set_password(paths: &Paths) -> Result<(), String> {
    use std::io::{BufRead, Read};
    let mut line = Vec::new();
    std::io::stdin()
        .lock()
        .take(password::MAX_PASSWORD_BYTES as u64 + 3)
        .read_until(b'\n', &mut line)
        .map_err(|_| "cannot read the password from standard input".to_string())?;
    let line = String::from_utf8(line)
        .map_err(|_| "the password on standard input is not UTF-8 text".to_string())?;
    let new = line.trim_end_matches(['\n', '\r']);
    let signed_out = manage::set_password(paths, new)?;
    println!(
        "remote password set (stored as an Argon2id hash in {}); {signed_out} device(s) signed out",
        Store::new(paths).file().display()
    );
    Ok(())
}

fn pair(paths: &Paths, remote: &RemoteConfig, json: bool) -> Result<(), String> {
    let offer = crate::remote::pairing_offer(paths, remote)?;
    if json {
        println!(
            "{}",
            json!({"url": offer.url, "token": offer.token, "expires_in": offer.expires_in,
                   "fingerprint": offer.fingerprint})
        );
        return Ok(());
    }
    let qr = qrcode::QrCode::new(offer.url.as_bytes())
        .map_err(|e| format!("cannot make a QR code: {e}"))?;
    let picture = qr
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    println!("{picture}");
    println!("Scan with your phone's camera, or open:\n  {}", offer.url);
    println!(
        "The code works once, for {} minutes.",
        offer.expires_in / 60
    );
    match &offer.fingerprint {
        Some(f) => println!(
            "The browser will warn about the self-signed certificate; accept it only if its SHA-256 fingerprint is\n  {f}"
        ),
        None if remote.tls == RemoteTls::Auto => println!(
            "The certificate is made when the gateway first starts; run `opencode-nexus remote status` then to see its fingerprint."
        ),
        None => {}
    }
    if !remote.enabled {
        eprintln!("note: the gateway is off; set `enabled = true` under [remote] in config.toml");
    } else if remote.listen.ip().is_loopback() {
        eprintln!(
            "note: the gateway listens on {} only; a phone reaches it through a tunnel (see the README) or with remote.listen set to this machine's LAN address",
            remote.listen
        );
    }
    Ok(())
}

fn devices(paths: &Paths, json: bool) -> Result<(), String> {
    let account = manage::current_account(paths)?;
    let devices = manage::devices(&account);
    if json {
        println!("{}", json!(devices));
        return Ok(());
    }
    if devices.is_empty() {
        println!("no device is signed in");
    }
    for d in &devices {
        println!(
            "{}  {}  from {}  (by {}, since {}, last seen {})",
            d.id, d.name, d.address, d.via, d.created, d.last_seen
        );
    }
    Ok(())
}

fn revoke(paths: &Paths, which: Option<String>) -> Result<(), String> {
    let ended = manage::revoke(paths, which.as_deref())?;
    match (which, ended) {
        (Some(id), 0) => Err(format!(
            "no device {id} (see `opencode-nexus remote devices`)"
        )),
        (Some(id), _) => {
            println!("device {id} signed out");
            Ok(())
        }
        (None, n) => {
            println!("{n} device(s) signed out");
            Ok(())
        }
    }
}

/// Recent sign-ins listed by the text form of `remote status`.
const ATTEMPTS_IN_TEXT: usize = 10;

fn status(paths: &Paths, remote: &RemoteConfig, json: bool) -> Result<(), String> {
    let status = manage::status(paths, remote)?;
    if json {
        println!("{}", json!(status));
        return Ok(());
    }
    println!(
        "gateway: {} (listen {}, TLS {})",
        if status.enabled { "on" } else { "off" },
        status.listen,
        if status.tls { "auto" } else { "off" }
    );
    for url in &status.urls {
        println!("  {url}");
    }
    if let Some(f) = &status.fingerprint {
        println!("certificate SHA-256: {f}");
    }
    println!(
        "password: {}",
        if status.password_set {
            "set"
        } else {
            "not set (`opencode-nexus remote password`)"
        }
    );
    println!("devices signed in: {}", status.devices.len());
    if !status.attempts.is_empty() {
        println!("recent sign-ins (newest first):");
        for a in status.attempts.iter().take(ATTEMPTS_IN_TEXT) {
            println!(
                "  {}  {}  {}  {}",
                a.time,
                a.address,
                a.result,
                crate::core::visible_text::visible(&a.user_agent)
            );
        }
    }
    Ok(())
}
