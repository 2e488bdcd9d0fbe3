//! The SQL written once for both backends.
//!
//! A backend lends a connection as a [`Conn`] (run a statement, read rows with
//! typed column access) and names its [`Dialect`] (the handful of places where
//! SQLite and PostgreSQL spell the same thing differently). Everything in this
//! module is written over those two: the filter builder ([`filter`]), the
//! account store ([`accounts`]), the load ledger and store statistics
//! ([`ledger`]), the listing and statistics reads ([`reads`]) and the training
//! row reads ([`training`]). A store opts in by implementing [`SqlStore`] (how to
//! lend a read connection and run a write transaction).
//!
//! What stays in `sqlite/` and `postgres/` is what differs on purpose: opening
//! and pooling connections, migrations, the upsert write path (PostgreSQL
//! buffers rows for `COPY`), detail documents (PostgreSQL builds them set-based,
//! SQLite reads them on the reactor thread), backups and integrity checks.

pub(crate) mod accounts;
pub(crate) mod conn;
pub(crate) mod details;
pub(crate) mod dialect;
pub(crate) mod facts;
pub(crate) mod filter;
pub(crate) mod ledger;
pub(crate) mod reads;
pub(crate) mod streams;
pub(crate) mod training;

pub(crate) use conn::{Arg, Conn, Row, args};
pub(crate) use dialect::Dialect;

use crate::Result;

/// A store whose reads and writes go through a [`Conn`]: the one thing a
/// backend provides to get the shared implementations of this module.
pub(crate) trait SqlStore: Send + Sync {
    /// The SQL this store speaks.
    fn dialect(&self) -> Dialect;

    /// Runs `f` on a connection for reading, provided the schema is current.
    /// PostgreSQL retries `f` after a transient error, so `f` must be safe to repeat.
    fn read<T>(&self, f: impl FnMut(&mut dyn Conn) -> Result<T>) -> Result<T>;

    /// Runs `f` in one write transaction (committed when `f` succeeds), provided
    /// the schema is current. Changes no data version: for accounts, which no
    /// cached query answer depends on.
    fn write<T>(&self, f: impl FnMut(&mut dyn Conn) -> Result<T>) -> Result<T>;

    /// Like [`SqlStore::write`], and announces a data change (caches of query
    /// answers keyed by [`crate::Store::data_version`] move on).
    fn write_data<T>(&self, f: impl FnMut(&mut dyn Conn) -> Result<T>) -> Result<T>;
}

/// A count read from the database (never negative) as `u64`.
pub(crate) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A count or size as a database integer (saturating).
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A `LIMIT` value.
pub(crate) fn limit_arg(limit: usize) -> Arg {
    Arg::Int(i64::try_from(limit).unwrap_or(i64::MAX))
}
