//! What the computer's owner does with the remote account: make a pairing
//! offer (a one-time code, its URL and QR code, the certificate to compare),
//! read the account's state (devices, recent sign-ins), sign devices out and
//! set a new password. The `remote` commands and the popover's pages both
//! call these, so there is one implementation of each and they say the same.
//!
//! Blocking (the account file's lock, Argon2id): call these off the async
//! threads. No network and no process of its own: the gateway is elsewhere.

use super::account::{Account, Attempt, Device, PAIRING_LIFETIME_MS};
use super::store::Store;
use super::{new_token, now_ms, password, token_hash};
use crate::config::{RemoteConfig, RemoteTls};
use crate::paths::Paths;
use serde::Serialize;
use std::net::IpAddr;

/// Sign-in attempts a status report lists, newest first.
pub const MAX_ATTEMPTS_SHOWN: usize = 20;

/// A fresh one-time pairing code, as the owner is shown it.
#[derive(Clone, PartialEq, Eq)]
pub struct Offer {
    /// `<base>/pair#<token>`: what the phone opens (the QR code's content).
    pub url: String,
    /// The code itself (a secret until used: only its hash is stored).
    pub token: String,
    /// Seconds it stays valid.
    pub expires_in: u64,
    /// The certificate's SHA-256 to compare in the phone's browser; `None`
    /// without TLS, or before the gateway has made its certificate.
    pub fingerprint: Option<String>,
    /// The URL as a QR code: an SVG image, dark on light with a quiet zone.
    pub qr_svg: String,
}

/// The code is a secret: Debug (and so any log line) leaves it out.
impl std::fmt::Debug for Offer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let base = self.url.split('#').next().unwrap_or_default();
        f.debug_struct("Offer")
            .field("url", &format_args!("{base}#***"))
            .field("token", &format_args!("***"))
            .field("expires_in", &self.expires_in)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Offer {
    /// The QR code as a `data:` URL an `<img>` can show under the page's CSP
    /// (`img-src 'self' data:`).
    pub fn qr_data_url(&self) -> String {
        use base64::Engine;
        format!(
            "data:image/svg+xml;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(self.qr_svg.as_bytes())
        )
    }
}

/// Makes a pairing code (stored as its hash, good once for five minutes)
/// and everything the owner needs to hand it to a phone.
pub fn pairing_offer(paths: &Paths, remote: &RemoteConfig) -> Result<Offer, String> {
    let token = new_token()?;
    Store::new(paths).update(|account| account.add_pairing(token_hash(&token), now_ms()))?;
    let base = public_urls(remote).into_iter().next().unwrap_or_default();
    let url = format!("{base}/pair#{token}");
    let qr_svg = qr_svg(&url)?;
    Ok(Offer {
        url,
        token,
        expires_in: PAIRING_LIFETIME_MS / 1000,
        fingerprint: certificate_fingerprint(paths, remote),
        qr_svg,
    })
}

/// `text` as a QR code in SVG: black on white (what phone cameras read
/// best, whatever the page's colour scheme), with the standard quiet zone.
pub fn qr_svg(text: &str) -> Result<String, String> {
    use qrcode::render::svg;
    let code =
        qrcode::QrCode::new(text.as_bytes()).map_err(|e| format!("cannot make a QR code: {e}"))?;
    Ok(code
        .render::<svg::Color>()
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .module_dimensions(4, 4)
        .build())
}

/// The addresses a phone should use: the listening address, or this
/// machine's LAN addresses (then loopback) when listening on every interface.
pub fn public_urls(remote: &RemoteConfig) -> Vec<String> {
    let scheme = match remote.tls {
        RemoteTls::Auto => "https",
        RemoteTls::Off => "http",
    };
    let port = remote.listen.port();
    let host = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    // A tunnel's own names first: that is how a phone gets here. Without
    // TLS of its own the gateway is behind a tunnel that brings HTTPS on
    // its usual port; with it, the name reaches this port directly.
    let mut urls: Vec<String> = remote
        .hosts
        .iter()
        .map(|name| match remote.tls {
            RemoteTls::Off => format!("https://{name}"),
            RemoteTls::Auto => format!("https://{name}:{port}"),
        })
        .collect();
    if remote.listen.ip().is_unspecified() {
        let names = super::certificate::machine_names(remote.listen.ip());
        urls.extend(
            names
                .iter()
                .filter_map(|n| n.parse::<IpAddr>().ok())
                .filter(|ip| !ip.is_loopback() && ip.is_ipv4())
                .map(|ip| format!("{scheme}://{}:{port}", host(ip))),
        );
        urls.push(format!("{scheme}://127.0.0.1:{port}"));
    } else {
        urls.push(format!("{scheme}://{}:{port}", host(remote.listen.ip())));
    }
    urls
}

/// The gateway certificate's fingerprint, once the gateway has made it.
pub fn certificate_fingerprint(paths: &Paths, remote: &RemoteConfig) -> Option<String> {
    if remote.tls == RemoteTls::Off {
        return None;
    }
    crate::small_file::read_small_text(&paths.remote_cert_file(), 64 * 1024)
        .ok()
        .and_then(|pem| super::certificate::fingerprint(&pem))
}

/// The account's state as `remote status --json` prints it (and the pair
/// page shows it): never a hash, token or password.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub enabled: bool,
    pub listen: String,
    /// Whether the gateway serves HTTPS itself (`tls = "auto"`).
    pub tls: bool,
    pub urls: Vec<String>,
    pub fingerprint: Option<String>,
    pub password_set: bool,
    pub devices: Vec<DeviceView>,
    /// Newest first, at most [`MAX_ATTEMPTS_SHOWN`].
    pub attempts: Vec<AttemptView>,
}

/// A signed-in device as it is shown (its token's hash left out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceView {
    pub id: String,
    pub name: String,
    pub address: String,
    /// `password` or `pairing`.
    pub via: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub last_seen: String,
}

/// One sign-in attempt as it is shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptView {
    /// RFC 3339, UTC.
    pub time: String,
    pub address: String,
    /// As the browser sent it (at most 200 characters); show it as text.
    pub user_agent: String,
    /// `ok`, `wrong_password`, `locked`, `no_password`, `paired`, `bad_pairing`.
    pub result: String,
}

impl From<&Device> for DeviceView {
    fn from(d: &Device) -> Self {
        DeviceView {
            id: d.id.clone(),
            name: d.name.clone(),
            address: d.address.clone(),
            via: d.via.clone(),
            created: time_text(d.created_ms),
            last_seen: time_text(d.last_seen_ms),
        }
    }
}

impl From<&Attempt> for AttemptView {
    fn from(a: &Attempt) -> Self {
        AttemptView {
            time: time_text(a.time_ms),
            address: a.address.clone(),
            user_agent: a.user_agent.clone(),
            result: a.result.clone(),
        }
    }
}

/// The account as stored now, expired devices and codes left out.
pub fn current_account(paths: &Paths) -> Result<Account, String> {
    let mut account = Store::new(paths).read()?;
    account.expire(now_ms());
    Ok(account)
}

/// The signed-in devices, as shown.
pub fn devices(account: &Account) -> Vec<DeviceView> {
    account.devices.iter().map(DeviceView::from).collect()
}

/// Whether the gateway is on, where, its certificate, the devices and the
/// recent sign-ins.
pub fn status(paths: &Paths, remote: &RemoteConfig) -> Result<Status, String> {
    let account = current_account(paths)?;
    Ok(Status {
        enabled: remote.enabled,
        listen: remote.listen.to_string(),
        tls: remote.tls == RemoteTls::Auto,
        urls: public_urls(remote),
        fingerprint: certificate_fingerprint(paths, remote),
        password_set: account.password.is_some(),
        devices: devices(&account),
        attempts: account
            .attempts
            .iter()
            .rev()
            .take(MAX_ATTEMPTS_SHOWN)
            .map(AttemptView::from)
            .collect(),
    })
}

/// Signs a device out (`Some(id)`) or every device (`None`); how many ended.
/// The gateway sees the change at once and closes their pages.
pub fn revoke(paths: &Paths, which: Option<&str>) -> Result<usize, String> {
    Store::new(paths).update(|account| account.revoke(which))
}

/// Checks and stores a new password (only its Argon2id hash); signs every
/// device out and voids waiting pairing codes. How many devices it signed out.
pub fn set_password(paths: &Paths, new: &str) -> Result<usize, String> {
    password::check_new(new)?;
    let phc = password::hash(new)?;
    Store::new(paths).update(|account| {
        let devices = account.devices.len();
        account.set_password(phc);
        devices
    })
}

/// A time the account counts (Unix milliseconds) as RFC 3339, UTC, seconds.
pub fn time_text(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::account::Device;

    fn home() -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::with_home(dir.path().to_str().unwrap());
        (dir, paths)
    }

    fn remote(listen: &str, tls: RemoteTls) -> RemoteConfig {
        RemoteConfig {
            listen: listen.parse().unwrap(),
            tls,
            ..RemoteConfig::default()
        }
    }

    #[test]
    fn an_offer_stores_only_the_codes_hash_and_works_once() {
        let (_dir, paths) = home();
        let config = remote("192.168.1.20:4180", RemoteTls::Auto);
        let offer = pairing_offer(&paths, &config).unwrap();
        assert_eq!(
            offer.url,
            format!("https://192.168.1.20:4180/pair#{}", offer.token)
        );
        assert_eq!(offer.expires_in, 300);
        assert_eq!(offer.fingerprint, None, "no certificate made yet");

        let stored = std::fs::read_to_string(Store::new(&paths).file()).unwrap();
        assert!(!stored.contains(&offer.token), "the code itself is stored");
        let account = Store::new(&paths).read().unwrap();
        assert_eq!(account.pairings.len(), 1);
        assert_eq!(account.pairings[0].token_hash, token_hash(&offer.token));
        let used = Store::new(&paths)
            .update(|a| {
                let first = a.take_pairing(&token_hash(&offer.token), now_ms());
                (first, a.take_pairing(&token_hash(&offer.token), now_ms()))
            })
            .unwrap();
        assert_eq!(used, (true, false), "accepted exactly once");

        // Another offer is another code.
        let again = pairing_offer(&paths, &config).unwrap();
        assert_ne!(again.token, offer.token);
    }

    #[test]
    fn the_qr_code_is_an_svg_image_of_the_url_and_debug_hides_the_code() {
        let (_dir, paths) = home();
        let offer = pairing_offer(&paths, &remote("127.0.0.1:4180", RemoteTls::Off)).unwrap();
        assert!(offer.url.starts_with("http://127.0.0.1:4180/pair#"));
        assert!(offer.qr_svg.contains("<svg") && offer.qr_svg.ends_with("</svg>"));
        assert!(offer.qr_svg.contains(r##"fill="#000000""##));
        let data = offer.qr_data_url();
        let encoded = data.strip_prefix("data:image/svg+xml;base64,").unwrap();
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, offer.qr_svg.as_bytes());

        let shown = format!("{offer:?}");
        assert!(!shown.contains(&offer.token), "{shown}");
        assert!(shown.contains("http://127.0.0.1:4180/pair#***"), "{shown}");
    }

    #[test]
    fn the_fingerprint_is_the_stored_certificates_and_none_without_tls() {
        let (_dir, paths) = home();
        #[cfg(not(target_os = "macos"))]
        {
            let names = ["localhost".to_string(), "127.0.0.1".to_string()];
            let (cert, _) = crate::remote::certificate::load_or_create(&paths, &names).unwrap();
            let expected = crate::remote::certificate::fingerprint(&cert);
            let auto = remote("127.0.0.1:4180", RemoteTls::Auto);
            assert_eq!(certificate_fingerprint(&paths, &auto), expected);
            assert!(expected.is_some());
        }
        let off = remote("127.0.0.1:4180", RemoteTls::Off);
        assert_eq!(certificate_fingerprint(&paths, &off), None);
    }

    #[test]
    fn urls_name_the_listening_address_or_every_lan_address() {
        let v6 = public_urls(&remote("[::1]:4180", RemoteTls::Off));
        assert_eq!(v6, ["http://[::1]:4180"]);
        let all = public_urls(&remote("0.0.0.0:4443", RemoteTls::Auto));
        assert_eq!(all.last().unwrap(), "https://127.0.0.1:4443");
        assert!(all.iter().all(|u| u.starts_with("https://")));
        // A tunnel's name comes first; behind a tunnel with HTTPS of its own, on its port.
        let mut tailnet = remote("127.0.0.1:4180", RemoteTls::Off);
        tailnet.hosts = vec!["laptop.tail1234.ts.net".into()];
        assert_eq!(
            public_urls(&tailnet),
            ["https://laptop.tail1234.ts.net", "http://127.0.0.1:4180"]
        );
        let mut lan_name = remote("192.168.1.20:4180", RemoteTls::Auto);
        lan_name.hosts = vec!["desk.lan".into()];
        assert_eq!(public_urls(&lan_name)[0], "https://desk.lan:4180");
    }

    #[test]
    fn status_lists_devices_and_recent_attempts_newest_first_and_no_secret() {
        let (_dir, paths) = home();
        let store = Store::new(&paths);
        let now = now_ms();
        store
            .update(|a| {
                a.password = Some("$argon2id$v=19$secret-hash".into());
                a.add_device(Device {
                    id: "d1a2b3c4".into(),
                    token_hash: "feedface".into(),
                    name: "Safari on iPhone".into(),
                    address: "192.168.1.7".into(),
                    via: "pairing".into(),
                    created_ms: now,
                    last_seen_ms: now,
                });
                for i in 0..(MAX_ATTEMPTS_SHOWN + 5) {
                    a.record_attempt(now + i as u64, "10.0.0.9", "<b>ua</b>", "wrong_password");
                }
                a.record_attempt(now + 999, "192.168.1.7", "Safari", "paired");
            })
            .unwrap();
        let config = remote("192.168.1.20:4180", RemoteTls::Auto);
        let status = status(&paths, &config).unwrap();
        assert!(!status.enabled && status.tls && status.password_set);
        assert_eq!(status.listen, "192.168.1.20:4180");
        assert_eq!(status.urls, ["https://192.168.1.20:4180"]);
        assert_eq!(status.devices.len(), 1);
        assert_eq!(status.devices[0].name, "Safari on iPhone");
        assert_eq!(status.attempts.len(), MAX_ATTEMPTS_SHOWN);
        assert_eq!(status.attempts[0].result, "paired", "newest first");
        assert_eq!(status.attempts[1].user_agent, "<b>ua</b>");
        let json = serde_json::to_value(&status).unwrap();
        for key in [
            "enabled",
            "listen",
            "tls",
            "urls",
            "fingerprint",
            "password_set",
            "devices",
            "attempts",
        ] {
            assert!(json.get(key).is_some(), "{key} missing: {json}");
        }
        let text = json.to_string();
        assert!(!text.contains("feedface") && !text.contains("secret-hash"));
        assert!(
            json["devices"][0]["last_seen"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );

        // Signing out one device, then the rest.
        assert_eq!(revoke(&paths, Some("nope")).unwrap(), 0);
        assert_eq!(revoke(&paths, Some("d1a2b3c4")).unwrap(), 1);
        assert!(current_account(&paths).unwrap().devices.is_empty());
        assert_eq!(revoke(&paths, None).unwrap(), 0);
    }

    #[test]
    fn a_new_password_is_checked_stored_hashed_and_signs_every_device_out() {
        let (_dir, paths) = home();
        let store = Store::new(&paths);
        store
            .update(|a| {
                a.add_pairing("waiting".into(), now_ms());
                a.add_device(Device {
                    id: "d1".into(),
                    token_hash: "aa".into(),
                    name: "Chrome on Android".into(),
                    address: "10.0.0.2".into(),
                    via: "password".into(),
                    created_ms: now_ms(),
                    last_seen_ms: now_ms(),
                });
            })
            .unwrap();
        assert!(
            set_password(&paths, "short")
                .unwrap_err()
                .contains("too short")
        );
        assert_eq!(
            store.read().unwrap().devices.len(),
            1,
            "refused: nothing changed"
        );
        assert_eq!(set_password(&paths, "correct horse battery").unwrap(), 1);
        let account = store.read().unwrap();
        assert!(account.devices.is_empty() && account.pairings.is_empty());
        let phc = account.password.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert_eq!(
            password::verify("correct horse battery", &phc),
            password::Verdict::Right
        );
        let stored = std::fs::read_to_string(store.file()).unwrap();
        assert!(!stored.contains("correct horse battery"));
    }
}
