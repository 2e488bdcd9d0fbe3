//! Random secrets and their stored form.
//!
//! Every token and key is 256 bits from the operating system's CSPRNG, written
//! in unpadded base64url. Because they are that strong, a plain SHA-256 digest
//! is a safe stored form (unlike passwords, which need a slow hash): the
//! database only ever sees the digest, and a lookup by digest reveals nothing
//! about the secret by its timing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// `n` random bytes from the OS.
pub(crate) fn bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("the OS random source failed: {e}")))?;
    Ok(buf)
}

/// A random 256-bit secret in base64url, after `prefix`.
pub(crate) fn token(prefix: &str) -> Result<String> {
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes(32)?)))
}

/// A random public identifier (72 bits) after `prefix`; not a secret.
pub(crate) fn id(prefix: &str) -> Result<String> {
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes(9)?)))
}

/// The stored form of a random secret: SHA-256, hex.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_distinct() {
        let a = token("rt_").unwrap();
        let b = token("rt_").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("rt_") && a.len() == 3 + 43, "{a}");
        assert_eq!(digest("x").len(), 64);
        assert_ne!(digest(&a), digest(&b));
    }
}
