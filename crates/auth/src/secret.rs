//! The JWT signing secret: from `NTSB_JWT_SECRET` or the file named by
//! `NTSB_JWT_SECRET_FILE`, at least [`MIN_SECRET_BYTES`] bytes; or, outside
//! production, an ephemeral random one (tokens then die with the process).
//! Its `Debug` never shows it.

use crate::{Error, Result};

/// Shortest acceptable secret: 256 bits, the size of an HS256 key.
pub const MIN_SECRET_BYTES: usize = 32;

/// A signing secret.
#[derive(Clone)]
pub struct SigningSecret {
    bytes: Vec<u8>,
    ephemeral: bool,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningSecret")
            .field("bytes", &format_args!("[redacted; {}]", self.bytes.len()))
            .field("ephemeral", &self.ephemeral)
            .finish()
    }
}

/// Equal when the bytes are equal (compared in constant time) — for
/// configuration structs that compare settings.
impl PartialEq for SigningSecret {
    fn eq(&self, other: &Self) -> bool {
        self.bytes.len() == other.bytes.len()
            && self.bytes.iter().zip(&other.bytes).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
            && self.ephemeral == other.ephemeral
    }
}

impl Eq for SigningSecret {}

impl SigningSecret {
    /// A secret from its bytes; refused when shorter than [`MIN_SECRET_BYTES`]
    /// (`setting` names where it came from, for the message).
    pub fn new(bytes: Vec<u8>, setting: &str) -> Result<SigningSecret> {
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(Error::Config(format!(
                "{setting}: the JWT signing secret must be at least {MIN_SECRET_BYTES} bytes, got {}",
                bytes.len()
            )));
        }
        Ok(SigningSecret { bytes, ephemeral: false })
    }

    /// Reads the secret from a file (surrounding whitespace and a final newline removed).
    pub fn from_file(path: &std::path::Path, setting: &str) -> Result<SigningSecret> {
        let raw = std::fs::read(path)
            .map_err(|e| Error::Config(format!("{setting}: cannot read {}: {e}", path.display())))?;
        let trimmed = raw.trim_ascii().to_vec();
        SigningSecret::new(trimmed, setting)
    }

    /// A random secret for development; tokens signed with it die with the process.
    pub fn ephemeral() -> Result<SigningSecret> {
        Ok(SigningSecret { bytes: crate::random::bytes(MIN_SECRET_BYTES * 2)?, ephemeral: true })
    }

    /// Whether this secret was generated at start-up.
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused_naming_the_setting() {
        let err = SigningSecret::new(b"short".to_vec(), "NTSB_JWT_SECRET").unwrap_err().to_string();
        assert!(err.contains("NTSB_JWT_SECRET") && err.contains("32"), "{err}");
        assert!(SigningSecret::new(vec![b'x'; 32], "x").is_ok());
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let s = SigningSecret::new(b"0123456789abcdef0123456789abcdefSECRET".to_vec(), "x").unwrap();
        assert!(!format!("{s:?}").contains("SECRET"));
    }

    #[test]
    fn file_secrets_are_trimmed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        std::fs::write(&p, format!("{}\n", "k".repeat(40))).unwrap();
        assert_eq!(SigningSecret::from_file(&p, "f").unwrap().bytes().len(), 40);
        std::fs::write(&p, "short\n").unwrap();
        assert!(SigningSecret::from_file(&p, "f").is_err());
        assert!(SigningSecret::from_file(&dir.path().join("missing"), "f").is_err());
    }
}
