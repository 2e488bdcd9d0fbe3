//! Delivering password-reset tokens to the account's owner.
//!
//! The engine never returns a reset token to the caller that asked for it
//! (anyone can ask for anyone's reset). It hands the token to a
//! [`ResetDelivery`]; [`FileOutbox`] writes one JSON message per request into a
//! directory that a mail relay sends from (files readable by the owner only).

use std::io::Write;
use std::path::PathBuf;

use crate::{Error, Result};

/// Sends a reset token to the owner of an e-mail address.
pub trait ResetDelivery: Send + Sync + std::fmt::Debug {
    /// Delivers `token` (valid until `expires_at`, Unix seconds) to `email`.
    fn deliver(&self, email: &str, token: &str, expires_at: i64) -> Result<()>;
}

/// Writes each message as `<time>-<random>.json` into a directory.
#[derive(Debug, Clone)]
pub struct FileOutbox {
    dir: PathBuf,
}

impl FileOutbox {
    /// An outbox in `dir` (created if needed, on first use).
    pub fn new(dir: impl Into<PathBuf>) -> FileOutbox {
        FileOutbox { dir: dir.into() }
    }
}

impl ResetDelivery for FileOutbox {
    fn deliver(&self, email: &str, token: &str, expires_at: i64) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::Internal(format!("reset outbox {}: {e}", self.dir.display())))?;
        let name = format!("{expires_at}-{}.json", crate::random::id("")?.replace(['-', '_'], "0"));
        let path = self.dir.join(name);
        let body = serde_json::json!({
            "to": email,
            "subject": "Reset your NTSB Analytics password",
            "reset_token": token,
            "expires_at": expires_at,
        });
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file =
            options.open(&path).map_err(|e| Error::Internal(format!("reset outbox {}: {e}", path.display())))?;
        file.write_all(body.to_string().as_bytes())
            .map_err(|e| Error::Internal(format!("reset outbox {}: {e}", path.display())))
    }
}
