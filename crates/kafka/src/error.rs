//! The one error type of the Kafka crate, split by whose fault it is.

/// Errors of [`crate`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is unusable (no brokers, an empty topic name, …).
    #[error("{0}")]
    Config(String),
    /// The topic does not exist on the brokers (consuming never creates one).
    #[error("topic {topic:?} does not exist on the brokers {brokers}")]
    UnknownTopic {
        /// The topic asked for.
        topic: String,
        /// The bootstrap brokers, comma-separated.
        brokers: String,
    },
    /// The brokers could not be reached, or refused a request, after retrying.
    #[error("kafka {what}: {source}")]
    Broker {
        /// What was being done (`connecting to …`, `fetching topic/partition`, …).
        what: String,
        /// The client's error.
        #[source]
        source: rskafka::client::error::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] ntsb_store::Error),
    /// The full-text index failed while catching up with what was consumed.
    #[error(transparent)]
    Search(#[from] ntsb_search::Error),
    /// A blocking store call could not be run (the runtime is shutting down).
    #[error("the store task stopped: {0}")]
    Task(String),
}

impl Error {
    pub(crate) fn broker(what: impl Into<String>) -> impl FnOnce(rskafka::client::error::Error) -> Error {
        let what = what.into();
        move |source| Error::Broker { what, source }
    }
}

/// Result of [`crate`].
pub type Result<T> = std::result::Result<T, Error>;
