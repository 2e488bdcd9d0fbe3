//! [`Error`]: every way training, loading or scoring can fail, split by whose
//! fault it is.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an ML operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A caller's input is wrong: the field named and why (the API answers 400).
    #[error("{field}: {reason}")]
    InvalidInput {
        /// The field at fault, as the API names it (`features.latitude`).
        field: String,
        /// Why, in one sentence the caller can act on.
        reason: String,
    },
    /// There is not enough data to train or evaluate.
    #[error("not enough data: {0}")]
    NotEnoughData(String),
    /// A model file is not a model, has another format version, or its checksum is wrong.
    #[error("{path}: {reason}")]
    BadModelFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The store failed to give the training data.
    #[error("store: {0}")]
    Store(#[from] ntsb_store::Error),
}

impl Error {
    /// An [`Error::InvalidInput`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput { field: field.into(), reason: reason.into() }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
