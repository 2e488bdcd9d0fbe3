//! The error type of dense retrieval.

use std::path::{Path, PathBuf};

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, split by whose fault it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model directory lacks a file or holds one that cannot be read as
    /// what it should be (the operator's to fix: point `--embedding-model` at a
    /// directory in Hugging Face layout).
    #[error("{path}: {reason}")]
    Model {
        /// The offending file or directory.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The vector file belongs to another model or is damaged beyond its last
    /// commit (rebuild it with `ntsb index embed --rebuild`).
    #[error("{path}: {reason}")]
    Index {
        /// The vector file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Inference failed inside candle (a bug or an out-of-memory condition).
    #[error("embedding inference: {0}")]
    Inference(#[from] candle_core::Error),
    /// Tokenisation failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The full-text index failed (the BM25 half of a hybrid search).
    #[error("search index: {0}")]
    Search(#[from] ntsb_search::Error),
    /// The store failed while reading its index change log.
    #[error("store: {0}")]
    Store(#[from] ntsb_store::Error),
    /// The store's change log did not move past the position asked for.
    #[error("the store's index change log returned {0} changes that do not advance the position")]
    StoreNotAdvancing(usize),
    /// The job was stopped on request (its progress up to the last commit is kept).
    #[error("stopped on request")]
    Stopped,
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn model(path: &Path, reason: impl Into<String>) -> Error {
        Error::Model { path: path.to_path_buf(), reason: reason.into() }
    }

    pub(crate) fn index(path: &Path, reason: impl Into<String>) -> Error {
        Error::Index { path: path.to_path_buf(), reason: reason.into() }
    }
}
