//! Passwords: the strength rule and argon2id hashing.
//!
//! The rule is length first (NIST SP 800-63B): 12 to 128 characters, at least
//! 5 different characters, not one of the most common passwords, and not
//! containing the account's e-mail name. Hashes are argon2id PHC strings
//! with a random 128-bit salt; the cost is [`HashCost`] (default: OWASP's
//! 19 MiB, 2 passes, 1 lane). Verification is argon2's own constant-time
//! comparison. Unknown accounts are "verified" against a dummy hash of the
//! same cost, so a login takes as long whether or not the account exists.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::{Error, Result};

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 12;
/// Longest password accepted (bounds the hashing work per request).
pub const MAX_LENGTH: usize = 128;

/// A few of the most used passwords of at least 12 characters (lowercase).
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "password1234",
    "password12345",
    "passwordpassword",
    "qwertyuiop123",
    "qwertyuiopasdf",
    "iloveyou1234",
    "administrator",
    "letmein12345",
    "welcome12345",
    "aaaaaaaaaaaa",
    "abcdefghijkl",
    "abc123abc123",
    "changeme1234",
    "correcthorsebatterystaple",
];

/// The cost of argon2id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

impl HashCost {
    /// The cheapest cost argon2 allows, for tests only.
    pub const TEST: HashCost = HashCost { memory_kib: 8, iterations: 1, parallelism: 1 };

    fn argon2(self) -> Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| Error::Config(format!("argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Checks the strength rule; `field` names the request field for the message.
pub fn check_strength(password: &str, email: &str, field: &'static str) -> Result<()> {
    let invalid = |reason: String| Err(Error::InvalidInput { field, reason });
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return invalid(format!("must be at least {MIN_LENGTH} characters"));
    }
    if len > MAX_LENGTH {
        return invalid(format!("must be at most {MAX_LENGTH} characters"));
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 5 {
        return invalid("must use at least 5 different characters".into());
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return invalid("is one of the most common passwords".into());
    }
    let name = email.split('@').next().unwrap_or("").to_lowercase();
    if name.chars().count() >= 4 && lower.contains(&name) {
        return invalid("must not contain the e-mail address".into());
    }
    Ok(())
}

/// Hashes a password with argon2id and a fresh salt.
pub fn hash(password: &str, cost: HashCost) -> Result<String> {
    let salt = SaltString::encode_b64(&crate::random::bytes(16)?)
        .map_err(|e| Error::Internal(format!("salt encoding: {e}")))?;
    cost.argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

/// Whether `password` matches the PHC string `stored` (constant time). A
/// malformed stored hash never matches.
pub fn verify(password: &str, stored: &str, cost: HashCost) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let Ok(argon2) = cost.argon2() else { return false };
    argon2.verify_password(password.as_bytes(), &parsed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        for (pw, why) in [
            ("short1!", "at least 12"),
            ("aaaaaaaaaaaaaaaa", "5 different"),
            ("Password1234", "common"),
            ("alice-is-great-2024", "e-mail"),
        ] {
            let err = check_strength(pw, "alice@example.org", "password").unwrap_err().to_string();
            assert!(err.starts_with("password:") && err.contains(why), "{pw}: {err}");
        }
        assert!(check_strength(&"x1".repeat(65), "a@b.c", "password").is_err());
        assert!(check_strength("blue-Heron-7-ladder", "alice@example.org", "password").is_ok());
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("blue-Heron-7-ladder", HashCost::TEST).unwrap();
        let b = hash("blue-Heron-7-ladder", HashCost::TEST).unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(verify("blue-Heron-7-ladder", &a, HashCost::TEST));
        assert!(!verify("blue-Heron-7-ladde", &a, HashCost::TEST));
        assert!(!verify("anything", "not a hash", HashCost::TEST));
    }
}
