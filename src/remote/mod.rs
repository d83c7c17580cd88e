//! The remote account: who may use the gateway from elsewhere. `account`
//! (the data and its rules: lockout, device sessions, pairing codes, the
//! login audit, all with injected time), `password` (Argon2id), `store`
//! (the 0600 file under a lock), `certificate` (the self-signed TLS
//! certificate and its fingerprint), `manage` (what the owner does with the
//! account: pairing offers, the status report, signing devices out, a new
//! password). No network code lives here: the gateway (`crate::gateway`),
//! the `remote` commands and the popover's pages all stand on this.

pub mod account;
pub mod certificate;
pub mod manage;
pub mod password;
pub mod store;

pub use manage::{Offer, pairing_offer};

use sha2::{Digest, Sha256};

/// A new random secret token (256 bits, URL-safe base64).
pub fn new_token() -> Result<String, String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a token: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A short public id for a device (not a secret).
pub fn new_device_id() -> Result<String, String> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for an id: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// What is stored of a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The time now as the account counts it (Unix milliseconds).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_only_as_hashes() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        let h = token_hash(&a);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&a));
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
