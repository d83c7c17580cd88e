//! The remote password: Argon2id (the `argon2` crate) with at least OWASP's
//! minimum (19 MiB, two passes, one lane), stored as a PHC string. These are
//! slow on purpose: call them off the async threads.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest (a bound on the work one login can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Memory in KiB, passes, lanes.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why a new password is refused.
pub fn check_new(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password is too short ({chars} characters; at least {MIN_PASSWORD_CHARS})"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password is too long (at most {MAX_PASSWORD_BYTES} bytes)"
        ));
    }
    Ok(())
}

/// The PHC string of `password` with a fresh random salt.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness for the salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// What checking a password against the stored hash found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Wrong,
    Right,
    /// Right, and the stored hash uses weaker parameters than today's:
    /// store this new hash instead.
    RightRehashed(String),
}

/// Checks `password` against the stored PHC string (any Argon2 variant and
/// parameters it names).
pub fn verify(password: &str, phc: &str) -> Verdict {
    if password.len() > MAX_PASSWORD_BYTES {
        return Verdict::Wrong;
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
        tracing::error!("the stored remote password hash is unreadable; set a new password");
        return Verdict::Wrong;
    };
    if Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verdict::Wrong;
    }
    if is_weaker_than_today(&parsed) {
        match hash(password) {
            Ok(new) => return Verdict::RightRehashed(new),
            Err(e) => tracing::warn!("cannot rehash the remote password: {e}"),
        }
    }
    Verdict::Right
}

fn is_weaker_than_today(parsed: &PasswordHash) -> bool {
    let id_is_argon2id = parsed.algorithm.as_str() == "argon2id";
    match Params::try_from(parsed) {
        Ok(p) => !id_is_argon2id || p.m_cost() < MEMORY_KIB || p.t_cost() < PASSES,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_argon2id_at_owasp_strength_and_verifies() {
        let phc = hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert_eq!(verify("correct horse battery", &phc), Verdict::Right);
        assert_eq!(verify("correct horse batterx", &phc), Verdict::Wrong);
        assert_eq!(verify("x", "not a hash"), Verdict::Wrong);
        // Two hashes of one password differ (fresh salts).
        assert_ne!(phc, hash("correct horse battery").unwrap());
    }

    #[test]
    fn a_hash_with_weaker_parameters_is_replaced_on_login() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let old = weak
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        match verify("correct horse battery", &old) {
            Verdict::RightRehashed(new) => {
                assert!(new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
                assert_eq!(verify("correct horse battery", &new), Verdict::Right);
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
        assert_eq!(verify("wrong password", &old), Verdict::Wrong);
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check_new("123456789").unwrap_err().contains("too short"));
        assert!(check_new("1234567890").is_ok());
        assert!(check_new("ééééééééé").is_err(), "counts characters");
        assert!(check_new(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }
}
