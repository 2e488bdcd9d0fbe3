//! The engine's one error type.

/// What can go wrong answering or following.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed, or rejected the filter (`ntsb_store::Error::InvalidQuery`
    /// names the parameter, exactly as the SQL path would).
    #[error(transparent)]
    Store(#[from] ntsb_store::Error),
    /// An event id does not fit the projection's 32-bit ids.
    #[error("event id {0} is outside the projection's range (0..2^32)")]
    IdOutOfRange(i64),
}

/// The engine's result.
pub type Result<T> = std::result::Result<T, Error>;
