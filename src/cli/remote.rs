//! `opencode-nexus remote …`: the remote gateway's account from the
//! command line — set the password, pair a phone, list and revoke devices,
//! show the state. These work on the account file directly (under its
//! lock), so they work whether or not the daemon or the gateway runs; the
//! gateway sees a change at once and closes what it ended.

use super::exit_code;
use crate::config::{Config, RemoteConfig, RemoteTls};
use crate::paths::Paths;
use crate::remote::account::{Account, PAIRING_LIFETIME_MS};
use crate::remote::store::Store;
use crate::remote::{new_token, now_ms, password, token_hash};
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
    let store = Store::new(paths);
    let outcome = match command {
        RemoteCommand::Password => set_password(&store),
        RemoteCommand::Pair { json } => pair(paths, &store, &remote, json),
        RemoteCommand::Devices { json } => devices(&store, json),
        RemoteCommand::Revoke { id, all } => revoke(&store, if all { None } else { id }),
        RemoteCommand::Status { json } => status(paths, &store, &remote, json),
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

fn set_password(store: &Store) -> Result<(), String> {
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
    password::check_new(new)?;
    let phc = password::hash(new)?;
    let signed_out = store.update(|account| {
        let devices = account.devices.len();
        account.set_password(phc);
        devices
    })?;
    println!(
        "remote password set (stored as an Argon2id hash in {}); {signed_out} device(s) signed out",
        store.file().display()
    );
    Ok(())
}

/// The address a phone should use: the listening address, or this
/// machine's first LAN address when listening on every interface.
fn public_urls(remote: &RemoteConfig) -> Vec<String> {
    let scheme = match remote.tls {
        RemoteTls::Auto => "https",
        RemoteTls::Off => "http",
    };
    let port = remote.listen.port();
    let host = |ip: std::net::IpAddr| match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    if remote.listen.ip().is_unspecified() {
        let names = crate::remote::certificate::machine_names(remote.listen.ip());
        let mut urls: Vec<String> = names
            .iter()
            .filter_map(|n| n.parse::<std::net::IpAddr>().ok())
            .filter(|ip| !ip.is_loopback() && ip.is_ipv4())
            .map(|ip| format!("{scheme}://{}:{port}", host(ip)))
            .collect();
        urls.push(format!("{scheme}://127.0.0.1:{port}"));
        urls
    } else {
        vec![format!("{scheme}://{}:{port}", host(remote.listen.ip()))]
    }
}

fn fingerprint(paths: &Paths, remote: &RemoteConfig) -> Option<String> {
    if remote.tls == RemoteTls::Off {
        return None;
    }
    crate::small_file::read_small_text(&paths.remote_cert_file(), 64 * 1024)
        .ok()
        .and_then(|pem| crate::remote::certificate::fingerprint(&pem))
}

fn pair(paths: &Paths, store: &Store, remote: &RemoteConfig, json: bool) -> Result<(), String> {
    let token = new_token()?;
    store.update(|account| account.add_pairing(token_hash(&token), now_ms()))?;
    let base = public_urls(remote).into_iter().next().unwrap_or_default();
    let url = format!("{base}/pair#{token}");
    let fingerprint = fingerprint(paths, remote);
    let expires_in = PAIRING_LIFETIME_MS / 1000;
    if json {
        println!(
            "{}",
            json!({"url": url, "token": token, "expires_in": expires_in, "fingerprint": fingerprint})
        );
        return Ok(());
    }
    let qr =
        qrcode::QrCode::new(url.as_bytes()).map_err(|e| format!("cannot make a QR code: {e}"))?;
    let picture = qr
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    println!("{picture}");
    println!("Scan with your phone's camera, or open:\n  {url}");
    println!("The code works once, for {} minutes.", expires_in / 60);
    match fingerprint {
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

fn time_text(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
        .to_string()
}

fn device_json(account: &Account) -> serde_json::Value {
    account
        .devices
        .iter()
        .map(|d| {
            json!({"id": d.id, "name": d.name, "address": d.address, "via": d.via,
                   "created": time_text(d.created_ms), "last_seen": time_text(d.last_seen_ms)})
        })
        .collect()
}

fn devices(store: &Store, json: bool) -> Result<(), String> {
    let mut account = store.read()?;
    account.expire(now_ms());
    if json {
        println!("{}", device_json(&account));
        return Ok(());
    }
    if account.devices.is_empty() {
        println!("no device is signed in");
    }
    for d in &account.devices {
        println!(
            "{}  {}  from {}  (by {}, since {}, last seen {})",
            d.id,
            d.name,
            d.address,
            d.via,
            time_text(d.created_ms),
            time_text(d.last_seen_ms)
        );
    }
    Ok(())
}

fn revoke(store: &Store, which: Option<String>) -> Result<(), String> {
    let ended = store.update(|account| account.revoke(which.as_deref()))?;
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

fn status(paths: &Paths, store: &Store, remote: &RemoteConfig, json: bool) -> Result<(), String> {
    let mut account = store.read()?;
    account.expire(now_ms());
    let urls = public_urls(remote);
    let fingerprint = fingerprint(paths, remote);
    let attempts: Vec<serde_json::Value> = account
        .attempts
        .iter()
        .rev()
        .take(20)
        .map(|a| {
            json!({"time": time_text(a.time_ms), "address": a.address,
                   "user_agent": a.user_agent, "result": a.result})
        })
        .collect();
    if json {
        println!(
            "{}",
            json!({
                "enabled": remote.enabled,
                "listen": remote.listen.to_string(),
                "tls": remote.tls == RemoteTls::Auto,
                "urls": urls,
                "fingerprint": fingerprint,
                "password_set": account.password.is_some(),
                "devices": device_json(&account),
                "attempts": attempts,
            })
        );
        return Ok(());
    }
    println!(
        "gateway: {} (listen {}, TLS {})",
        if remote.enabled { "on" } else { "off" },
        remote.listen,
        if remote.tls == RemoteTls::Auto {
            "auto"
        } else {
            "off"
        }
    );
    for url in &urls {
        println!("  {url}");
    }
    if let Some(f) = &fingerprint {
        println!("certificate SHA-256: {f}");
    }
    println!(
        "password: {}",
        if account.password.is_some() {
            "set"
        } else {
            "not set (`opencode-nexus remote password`)"
        }
    );
    println!("devices signed in: {}", account.devices.len());
    if !attempts.is_empty() {
        println!("recent sign-ins (newest first):");
        for a in account.attempts.iter().rev().take(10) {
            println!(
                "  {}  {}  {}  {}",
                time_text(a.time_ms),
                a.address,
                a.result,
                crate::core::visible_text::visible(&a.user_agent)
            );
        }
    }
    Ok(())
}
