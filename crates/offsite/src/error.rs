//! The one error type of the off-site backups.

use std::path::PathBuf;

/// What went wrong in an off-site backup, restore or prune. Messages name the
/// object, file or setting; they never hold a key, a credential or a signed URL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backup key file is missing, unreadable or not 32 bytes.
    #[error("backup key file {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    /// The archive was encrypted with another key.
    #[error(
        "wrong backup key: the archive was encrypted with key id {archive}, the key file has key id {given}; nothing was restored"
    )]
    WrongKey { archive: String, given: String },
    /// Not an archive of this program, or a format version it cannot read.
    #[error("not an ntsb off-site archive: {0}")]
    Format(String),
    /// A chunk failed authentication: the archive was changed or cut short.
    #[error(
        "archive refused: chunk {chunk} failed authentication (the archive was tampered with or truncated); nothing was restored"
    )]
    Tampered { chunk: u64 },
    /// The archive ends before its first chunk.
    #[error("archive refused: truncated ({0}); nothing was restored")]
    Truncated(String),
    /// A bad `s3://` location or S3 setting.
    #[error("{0}")]
    Location(String),
    /// The object store refused or failed a request.
    #[error("object storage: {0}")]
    S3(String),
    /// No archive to restore under the prefix.
    #[error("no backup archive under {0}")]
    NoArchive(String),
    /// The backup directory inside the archive.
    #[error(transparent)]
    Store(#[from] ntsb_store::Error),
    /// Local files: temporary archive, unpacking.
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, Error>;
