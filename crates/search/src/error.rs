//! Errors of the search index.
//!
//! Queries never produce an error for what the user typed (see
//! [`crate::SearchIndex::search`]); these are about the index files, the writer
//! lock and the store the index is synced from.

use std::path::PathBuf;

/// Result with the search index's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with the full-text index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The directory holds an index written by another version of this program
    /// (or an index without our version file). It must be rebuilt.
    #[error(
        "the search index in {path} has schema version {found}, this program needs {expected}: \
         run `ntsb index rebuild`"
    )]
    SchemaVersion {
        /// Index directory.
        path: PathBuf,
        /// Version found on disk, as text (`none` when the version file is missing).
        found: String,
        /// Version this program writes.
        expected: u32,
    },
    /// The directory is not empty and does not hold a search index; it is left alone.
    #[error("{path} is not empty and does not hold a search index; choose another directory")]
    NotAnIndex {
        /// Directory given.
        path: PathBuf,
    },
    /// Another process holds the index writer lock.
    #[error("the search index in {path} is being written by another process; retry when it has finished")]
    Locked {
        /// Index directory.
        path: PathBuf,
    },
    /// The store kept returning the same pending documents after they were marked
    /// indexed, so syncing would never end.
    #[error("the store keeps returning the same {0} pending index documents after marking them indexed")]
    StoreNotAdvancing(usize),
    /// Filesystem error around the index directory.
    #[error("{path}: {source}")]
    Io {
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The store failed while reading pending documents or marking them indexed.
    #[error("store: {0}")]
    Store(#[from] ntsb_store::Error),
    /// The search engine failed (corrupt files, I/O inside the index).
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
