//! Errors that stop reading a file (as opposed to per-row rejects).

use std::path::Path;

/// Result with the ingest [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A fatal problem with a source file. Per-row problems are [`ntsb_model::records::Reject`]s.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is not in any format NTSB Analytics reads.
    #[error("{path}: not a recognised NTSB format ({reason})")]
    UnknownFormat {
        /// The file.
        path: String,
        /// What was seen instead.
        reason: String,
    },
    /// The file looks like a known format but its structure is broken
    /// (missing required columns, invalid JSON structure, corrupt archive).
    #[error("{path}: {reason}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An external tool is needed and missing or failed (mdbtools for Access files).
    #[error("{path}: {reason}")]
    Tool {
        /// The file.
        path: String,
        /// What is missing or what the tool said.
        reason: String,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.display().to_string(), source }
    }

    /// A structural problem in `path`.
    pub fn malformed(path: &Path, reason: impl Into<String>) -> Self {
        Error::Malformed { path: path.display().to_string(), reason: reason.into() }
    }
}
