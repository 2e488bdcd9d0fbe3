//! Errors of the storage layer.

/// Result with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in a store, split by whose fault it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database URL or path is not usable (bad scheme, unsupported backend).
    #[error("database {url}: {reason}")]
    Config {
        /// The URL as given (credentials removed).
        url: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The store holds demo data and real data was offered, or the reverse.
    #[error("{0}")]
    MixedContent(String),
    /// A migration cannot be applied or rolled back.
    #[error("migration {version}: {reason}")]
    Migration {
        /// Migration version.
        version: i64,
        /// What failed.
        reason: String,
    },
    /// The schema is older than this program expects: run `ntsb db migrate`.
    #[error("the database schema is at version {found}, this program needs {needed}: run `ntsb db migrate`")]
    SchemaOutOfDate {
        /// Version found.
        found: i64,
        /// Version needed.
        needed: i64,
    },
    /// The underlying database failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The PostgreSQL server failed or refused a statement.
    #[error("postgresql: {}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    /// No database connection could be had: the server is unreachable, or every
    /// pooled connection stayed busy past the acquire timeout.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A backup cannot be written, read or restored (damaged file, checksum or
    /// row count mismatch, schema version mismatch). Nothing was replaced.
    #[error("backup {path}: {reason}")]
    Backup {
        /// The backup directory or the file in it that is at fault.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A row would duplicate a unique one (an e-mail address already registered).
    #[error("{0}")]
    Conflict(String),
    /// A row the caller named (a load, an event) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A caller-supplied parameter is invalid (a malformed cursor, an empty range,
    /// a negative radius). The server answers 400 naming `parameter`.
    #[error("invalid {parameter}: {reason}")]
    InvalidQuery {
        /// The offending parameter, as the API names it (`cursor`, `bbox`, `km`, …).
        parameter: String,
        /// Why it is invalid, in one sentence.
        reason: String,
    },
    /// Stored data could not be decoded.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// Filesystem error around the database file.
    #[error("{path}: {source}")]
    Io {
        /// Path involved.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// The server's own message of a PostgreSQL error (the client's `Display` alone
/// says only "db error"), with its SQLSTATE; or the client error and its cause.
fn postgres_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut m = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            m.push_str(&format!(": {detail}"));
        }
        return m;
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}
