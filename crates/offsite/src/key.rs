//! The backup key: 32 random bytes from a file (a mounted secret), written as
//! 64 hexadecimal digits (surrounding whitespace ignored) or as the 32 raw bytes.
//!
//! Its key id, the first 8 bytes of SHA-256 over a label and the key, goes into
//! every archive's header, so restoring with the wrong key is refused by name
//! before any decryption is tried. The id reveals nothing usable about the key.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Bytes of a key.
pub const KEY_LEN: usize = 32;

/// Bytes of a key id.
pub const KEY_ID_LEN: usize = 8;

/// An XChaCha20-Poly1305 key. `Debug` shows only its id.
#[derive(Clone)]
pub struct BackupKey {
    bytes: [u8; KEY_LEN],
}

impl BackupKey {
    /// The key in `bytes`.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> BackupKey {
        BackupKey { bytes }
    }

    /// Reads a key file: 64 hex digits (one line) or 32 raw bytes.
    pub fn from_file(path: &Path) -> Result<BackupKey> {
        let err = |reason: &str| Error::Key { path: path.to_path_buf(), reason: reason.to_string() };
        let data = std::fs::read(path).map_err(|e| err(&format!("cannot read it ({})", e.kind())))?;
        Self::parse(&data).ok_or_else(|| {
            err("must hold 32 random bytes, as 64 hexadecimal digits or raw (make one with `openssl rand -hex 32`)")
        })
    }

    /// The key in a file's content, if it is one.
    pub fn parse(data: &[u8]) -> Option<BackupKey> {
        if let Ok(text) = std::str::from_utf8(data) {
            let text = text.trim();
            if text.len() == 2 * KEY_LEN {
                let mut bytes = [0u8; KEY_LEN];
                if hex::decode_to_slice(text, &mut bytes).is_ok() {
                    return Some(BackupKey { bytes });
                }
            }
        }
        let bytes: [u8; KEY_LEN] = data.try_into().ok()?;
        Some(BackupKey { bytes })
    }

    /// The key's id, written into archive headers.
    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        let digest = Sha256::new().chain_update(b"ntsb-offsite-key-id\0").chain_update(self.bytes).finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        id
    }

    /// The key's id in hex, for messages.
    pub fn id_hex(&self) -> String {
        hex::encode(self.id())
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupKey(id {})", self.id_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_raw_keys_are_read_and_others_refused() {
        let raw = [7u8; KEY_LEN];
        let hex_text = format!("{}\n", hex::encode(raw));
        assert_eq!(BackupKey::parse(hex_text.as_bytes()).unwrap().bytes, raw);
        assert_eq!(BackupKey::parse(&raw).unwrap().bytes, raw);
        assert!(BackupKey::parse(b"short").is_none());
        assert!(BackupKey::parse(&[1u8; 31]).is_none());
        assert!(BackupKey::parse("zz".repeat(32).as_bytes()).is_none());
        let key = BackupKey::from_bytes(raw);
        assert!(!format!("{key:?}").contains(&hex::encode(raw)));
        assert_ne!(key.id(), BackupKey::from_bytes([8u8; KEY_LEN]).id());
    }
}
