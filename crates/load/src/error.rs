//! Errors that stop a load command.

/// Result with the loader's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop loading altogether (per-file problems are reported per file).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Finding or recognising the input failed (missing path, unknown format).
    #[error(transparent)]
    Input(#[from] ntsb_ingest::Error),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] ntsb_store::Error),
    /// The full-text index failed.
    #[error(transparent)]
    Index(#[from] ntsb_search::Error),
    /// The rejects report could not be written.
    #[error("rejects report {path}: {reason}")]
    Report {
        /// Report path.
        path: String,
        /// What failed.
        reason: String,
    },
}
