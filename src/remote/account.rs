//! The remote account as data: the password's hash, the signed-in devices,
//! the pairing codes waiting to be used, the lockout counters and the recent
//! login attempts. Pure: every operation takes the time (`now`, Unix
//! milliseconds) and changes only this value; `store` reads and writes it.
//!
//! Secrets are never kept: devices and pairing codes are known by the SHA-256
//! of their random token, the password by its Argon2id PHC string.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A device stays signed in this long after signing in.
pub const SESSION_LIFETIME_MS: u64 = 30 * 24 * 60 * 60 * 1000;
/// A pairing code is good this long, once.
pub const PAIRING_LIFETIME_MS: u64 = 5 * 60 * 1000;
/// Failures allowed before each attempt must wait.
pub const FREE_FAILURES: u32 = 4;
/// The longest wait between attempts.
pub const MAX_LOCKOUT_MS: u64 = 15 * 60 * 1000;
/// Login attempts kept for `remote status`.
pub const MAX_ATTEMPTS_KEPT: usize = 50;
/// Client addresses whose failures are remembered (the oldest go first).
pub const MAX_ADDRESSES_KEPT: usize = 1000;
/// Devices signed in at once; a new one beyond this signs out the least recently seen.
pub const MAX_DEVICES: usize = 64;
/// Pairing codes waiting at once (the oldest go first).
pub const MAX_PAIRINGS: usize = 8;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Account {
    /// The password's Argon2id PHC string; `None` until one is set.
    pub password: Option<String>,
    pub devices: Vec<Device>,
    pub pairings: Vec<Pairing>,
    pub lockout: Lockout,
    /// Newest last.
    pub attempts: Vec<Attempt>,
}

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// A short public id, for `remote devices` and `remote revoke`.
    pub id: String,
    /// SHA-256 (hex) of the session token in its cookie.
    pub token_hash: String,
    /// Made from its user agent ("Safari on iPhone").
    pub name: String,
    pub address: String,
    /// How it signed in: `password` or `pairing`.
    pub via: String,
    pub created_ms: u64,
    pub last_seen_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pairing {
    pub token_hash: String,
    pub expires_ms: u64,
}

/// Consecutive failures and the wait they impose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub failures: u32,
    /// No attempt is heard before this time.
    pub locked_until_ms: u64,
    pub last_failure_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lockout {
    pub account: Counter,
    pub addresses: BTreeMap<String, Counter>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub time_ms: u64,
    pub address: String,
    pub user_agent: String,
    /// `ok`, `wrong_password`, `locked`, `no_password`, `paired`, `bad_pairing`.
    pub result: String,
}

impl Counter {
    /// How long an attempt must still wait, if it must.
    pub fn wait_ms(&self, now: u64) -> Option<u64> {
        (self.locked_until_ms > now).then(|| self.locked_until_ms - now)
    }

    fn fail(&mut self, now: u64) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure_ms = now;
        if self.failures > FREE_FAILURES {
            // 1 s at the 5th failure, doubling, capped.
            let doublings = (self.failures - FREE_FAILURES - 1).min(20);
            let wait = (1000u64 << doublings).min(MAX_LOCKOUT_MS);
            self.locked_until_ms = now + wait;
        }
    }
}

impl Lockout {
    /// The wait in force for an attempt from `address`, if any (the
    /// account's or the address's, whichever is longer).
    pub fn wait_ms(&self, address: &str, now: u64) -> Option<u64> {
        let by_address = self.addresses.get(address).and_then(|c| c.wait_ms(now));
        self.account.wait_ms(now).max(by_address)
    }

    pub fn fail(&mut self, address: &str, now: u64) {
        self.account.fail(now);
        if !self.addresses.contains_key(address) && self.addresses.len() >= MAX_ADDRESSES_KEPT {
            let oldest = self
                .addresses
                .iter()
                .min_by_key(|(_, c)| c.last_failure_ms)
                .map(|(a, _)| a.clone());
            if let Some(oldest) = oldest {
                self.addresses.remove(&oldest);
            }
        }
        self.addresses
            .entry(address.to_string())
            .or_default()
            .fail(now);
    }

    pub fn succeed(&mut self, address: &str) {
        self.account = Counter::default();
        self.addresses.remove(address);
    }
}

impl Account {
    pub fn record_attempt(&mut self, now: u64, address: &str, user_agent: &str, result: &str) {
        self.attempts.push(Attempt {
            time_ms: now,
            address: address.to_string(),
            user_agent: user_agent.chars().take(200).collect(),
            result: result.to_string(),
        });
        let extra = self.attempts.len().saturating_sub(MAX_ATTEMPTS_KEPT);
        self.attempts.drain(..extra);
    }

    /// Forgets expired devices and pairing codes.
    pub fn expire(&mut self, now: u64) {
        self.devices
            .retain(|d| d.created_ms.saturating_add(SESSION_LIFETIME_MS) > now);
        self.pairings.retain(|p| p.expires_ms > now);
    }

    /// The live device whose session token hashes to `token_hash`.
    pub fn device_by_token(&self, token_hash: &str, now: u64) -> Option<&Device> {
        self.devices.iter().find(|d| {
            constant_time_eq(&d.token_hash, token_hash)
                && d.created_ms.saturating_add(SESSION_LIFETIME_MS) > now
        })
    }

    pub fn add_device(&mut self, device: Device) {
        self.devices.push(device);
        while self.devices.len() > MAX_DEVICES {
            let least_recent = self
                .devices
                .iter()
                .enumerate()
                .min_by_key(|(_, d)| d.last_seen_ms)
                .map(|(i, _)| i);
            if let Some(i) = least_recent {
                self.devices.remove(i);
            }
        }
    }

    pub fn add_pairing(&mut self, token_hash: String, now: u64) {
        self.expire(now);
        self.pairings.push(Pairing {
            token_hash,
            expires_ms: now + PAIRING_LIFETIME_MS,
        });
        let extra = self.pairings.len().saturating_sub(MAX_PAIRINGS);
        self.pairings.drain(..extra);
    }

    /// Uses up the pairing code hashing to `token_hash`: true once, while it is valid.
    pub fn take_pairing(&mut self, token_hash: &str, now: u64) -> bool {
        self.expire(now);
        match self
            .pairings
            .iter()
            .position(|p| constant_time_eq(&p.token_hash, token_hash))
        {
            Some(i) => {
                self.pairings.remove(i);
                true
            }
            None => false,
        }
    }

    /// Ends devices: one by id (true if it existed), or all.
    pub fn revoke(&mut self, which: Option<&str>) -> usize {
        let before = self.devices.len();
        match which {
            Some(id) => self.devices.retain(|d| d.id != id),
            None => self.devices.clear(),
        }
        before - self.devices.len()
    }

    /// A new password signs every device out and voids waiting pairing codes.
    pub fn set_password(&mut self, phc: String) {
        self.password = Some(phc);
        self.devices.clear();
        self.pairings.clear();
        self.lockout = Lockout::default();
    }
}

/// Compares two hex digests without stopping at the first difference.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A device's name from its user agent: "Safari on iPhone", "Chrome on Android".
pub fn device_name(user_agent: &str) -> String {
    let ua = user_agent;
    let system = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("Mac OS X", "Mac"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let browser = [
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("EdgA/", "Edge"),
        ("Edg/", "Edge"),
        ("CriOS/", "Chrome"),
        ("HeadlessChrome/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("a browser on {s}"),
        (None, None) => "a browser".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: &str, hash: &str, created: u64) -> Device {
        Device {
            id: id.into(),
            token_hash: hash.into(),
            name: "Chrome on Android".into(),
            address: "10.0.0.2".into(),
            via: "password".into(),
            created_ms: created,
            last_seen_ms: created,
        }
    }

    #[test]
    fn the_fifth_failure_starts_a_doubling_wait_capped_at_fifteen_minutes() {
        let mut lockout = Lockout::default();
        let mut now = 1_000_000;
        for _ in 0..4 {
            lockout.fail("1.2.3.4", now);
            assert_eq!(lockout.wait_ms("1.2.3.4", now), None);
        }
        let mut expected = 1000;
        for _ in 0..15 {
            lockout.fail("1.2.3.4", now);
            assert_eq!(lockout.wait_ms("1.2.3.4", now), Some(expected));
            // Still refused a moment before the end, free at the end.
            assert!(lockout.wait_ms("1.2.3.4", now + expected - 1).is_some());
            now += expected;
            assert_eq!(lockout.wait_ms("1.2.3.4", now), None);
            expected = (expected * 2).min(MAX_LOCKOUT_MS);
        }
        assert_eq!(expected, MAX_LOCKOUT_MS);
        lockout.succeed("1.2.3.4");
        lockout.fail("1.2.3.4", now);
        assert_eq!(lockout.wait_ms("1.2.3.4", now), None, "a success resets");
    }

    #[test]
    fn failures_count_for_the_account_across_addresses() {
        let mut lockout = Lockout::default();
        for i in 0..5 {
            lockout.fail(&format!("10.0.0.{i}"), 0);
        }
        // A fresh address still waits: the account is locked.
        assert_eq!(lockout.wait_ms("192.168.1.9", 0), Some(1000));
        assert_eq!(lockout.addresses["10.0.0.0"].failures, 1);
    }

    #[test]
    fn remembered_addresses_are_bounded() {
        let mut lockout = Lockout::default();
        for i in 0..(MAX_ADDRESSES_KEPT + 10) {
            lockout.fail(&format!("a{i}"), i as u64);
        }
        assert_eq!(lockout.addresses.len(), MAX_ADDRESSES_KEPT);
        assert!(!lockout.addresses.contains_key("a0"), "the oldest went");
    }

    #[test]
    fn a_pairing_code_works_once_and_only_for_five_minutes() {
        let mut account = Account::default();
        account.add_pairing("h1".into(), 0);
        assert!(account.take_pairing("h1", 1000));
        assert!(!account.take_pairing("h1", 1001), "second use");
        account.add_pairing("h2".into(), 0);
        assert!(!account.take_pairing("h2", PAIRING_LIFETIME_MS), "expired");
        account.add_pairing("h3".into(), 0);
        assert!(account.take_pairing("h3", PAIRING_LIFETIME_MS - 1));
        assert!(!account.take_pairing("other", 0));
    }

    #[test]
    fn sessions_last_thirty_days_and_end_when_revoked_or_the_password_changes() {
        let mut account = Account::default();
        account.add_device(device("d1", "aa", 0));
        account.add_device(device("d2", "bb", 0));
        assert!(
            account
                .device_by_token("aa", SESSION_LIFETIME_MS - 1)
                .is_some()
        );
        assert!(account.device_by_token("aa", SESSION_LIFETIME_MS).is_none());
        assert!(account.device_by_token("cc", 0).is_none());
        assert_eq!(account.revoke(Some("d1")), 1);
        assert!(account.device_by_token("aa", 0).is_none());
        assert_eq!(account.revoke(Some("nope")), 0);
        account.add_pairing("p".into(), 0);
        account.lockout.fail("x", 0);
        account.set_password("$argon2id$new".into());
        assert!(account.devices.is_empty() && account.pairings.is_empty());
        assert_eq!(account.lockout, Lockout::default());
    }

    #[test]
    fn devices_and_attempts_are_bounded() {
        let mut account = Account::default();
        for i in 0..(MAX_DEVICES + 3) {
            account.add_device(device(&format!("d{i}"), &format!("h{i}"), i as u64));
        }
        assert_eq!(account.devices.len(), MAX_DEVICES);
        assert!(account.devices.iter().all(|d| d.id != "d0"));
        for i in 0..(MAX_ATTEMPTS_KEPT + 5) {
            account.record_attempt(i as u64, "a", &"x".repeat(500), "ok");
        }
        assert_eq!(account.attempts.len(), MAX_ATTEMPTS_KEPT);
        assert_eq!(account.attempts[0].time_ms, 5);
        assert_eq!(account.attempts[0].user_agent.len(), 200);
    }

    #[test]
    fn names_devices_from_their_user_agent() {
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device_name(iphone), "Safari on iPhone");
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36";
        assert_eq!(device_name(android), "Chrome on Android");
        assert_eq!(device_name("curl/8.0"), "a browser");
    }
}
