//! Passwords: the strength rule and argon2id hashing.
//!
//! The rule is length first (NIST SP 800-63B): 12 to 128 characters, no
//! control characters (NUL, newlines, tabs…), and hard to guess by the
//! estimate of `zxcvbn` (the maintained port of Dropbox's estimator: common
//! and breached passwords, dictionary words, names, keyboard walks, dates,
//! repeats and l33t substitutions, with the account's own e-mail address and
//! our service's name as extra words): a score of [`MIN_SCORE`] of 4, an
//! estimated 10^10 guesses or more. Hashes are argon2id PHC strings
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

/// Lowest `zxcvbn` score accepted (0–4): 4 means an estimated 10^10 guesses
/// or more. 3 (10^8) still lets season-and-year passwords like `Summer2024!!`
/// through (10^8.0), which attackers try early.
pub const MIN_SCORE: u8 = 4;

/// Words of this service that make a password easier to guess here.
const SITE_WORDS: &[&str] = &["ntsb", "analytics", "aviation", "accident"];

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

/// Checks the strength rule; `field` names the request field for the
/// message, `email` (may be empty) is the account's address, whose parts make
/// a password easier to guess.
pub fn check_strength(password: &str, email: &str, field: &'static str) -> Result<()> {
    let invalid = |reason: String| Err(Error::InvalidInput { field, reason });
    if password.chars().any(char::is_control) {
        return invalid("must not contain control characters (such as NUL, tab or newline)".into());
    }
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return invalid(format!("must be at least {MIN_LENGTH} characters"));
    }
    if len > MAX_LENGTH {
        return invalid(format!("must be at most {MAX_LENGTH} characters"));
    }
    let lower = password.to_lowercase();
    let name = email.split('@').next().unwrap_or("").to_lowercase();
    if name.chars().count() >= 4 && lower.contains(&name) {
        return invalid("must not contain the e-mail address".into());
    }
    let mut inputs: Vec<&str> = SITE_WORDS.to_vec();
    if !email.is_empty() {
        inputs.push(email);
        let (local, domain) = email.split_once('@').unwrap_or((email, ""));
        inputs.extend(local.split(['.', '_', '-', '+']).filter(|w| w.chars().count() >= 3));
        inputs.extend(domain.split('.').filter(|w| w.chars().count() >= 3));
    }
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if u8::from(estimate.score()) < MIN_SCORE {
        let why = estimate.feedback().and_then(|f| f.warning()).map(|w| format!(" ({w})")).unwrap_or_default();
        return invalid(format!("is too easy to guess{why}; use a longer password, e.g. several unrelated words"));
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
            ("aaaaaaaaaaaaaaaa", "too easy to guess"),
            ("Password1234", "too easy to guess"),
            // The review's examples: common patterns with the usual decorations.
            ("Password123!", "too easy to guess"),
            ("Qwerty123456", "too easy to guess"),
            ("Summer2024!!", "too easy to guess"),
            ("alice-is-great-2024", "e-mail"),
            ("blue-Heron-7-\u{0}ladder", "control characters"),
            ("blue-Heron-7-\nladder", "control characters"),
        ] {
            let err = check_strength(pw, "alice@example.org", "password")
                .err()
                .unwrap_or_else(|| panic!("{pw:?} was accepted"))
                .to_string();
            assert!(err.starts_with("password:") && err.contains(why), "{pw:?}: {err}");
        }
        assert!(check_strength(&"x1".repeat(65), "a@b.c", "password").is_err());
        for strong in ["blue-Heron-7-ladder", "green-Otter-8-kettle", "yellow-Finch-9-anvil"] {
            check_strength(strong, "alice@example.org", "password").unwrap_or_else(|e| panic!("{strong}: {e}"));
        }
        // The same words are weak as part of the account's own address.
        assert!(
            check_strength("heron.ladder.7", "heron.ladder@example.org", "password").is_err(),
            "the address's own words are guessable"
        );
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
