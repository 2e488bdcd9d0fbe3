//! Errors of a sync, split by whose fault they are.

/// Result with the sync's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong fetching or loading NTSB's files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is unusable (allowlist entry, source URL, size limit).
    #[error("{0}")]
    Setting(String),
    /// A request was refused before it was sent (SSRF policy: host, address,
    /// scheme, redirect).
    #[error("{url}: refused: {reason}")]
    Refused {
        /// The URL (without credentials).
        url: String,
        /// Why.
        reason: String,
    },
    /// The server could not be reached or the transfer broke off.
    #[error("{url}: {reason}")]
    Transfer {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server answered with a status other than 200 or 304.
    #[error("{url}: the server answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
    },
    /// The file is larger than the size limit.
    #[error("{url}: larger than the limit of {limit} bytes{}", .announced.map(|n| format!(" (announced {n} bytes)")).unwrap_or_default())]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
        /// The size the server announced, if it did.
        announced: Option<u64>,
    },
    /// A local file (download, state, metrics) could not be written or read.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
    /// Reading or recognising a downloaded file failed.
    #[error(transparent)]
    Input(#[from] ntsb_ingest::Error),
    /// The load failed.
    #[error(transparent)]
    Load(#[from] ntsb_load::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] ntsb_store::Error),
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
        Error::Io { path: path.display().to_string(), reason: e.to_string() }
    }
}
