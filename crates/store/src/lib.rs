//! Storage for NTSB records behind one interface, [`Store`].
//!
//! Callers (the ingest pipeline, the search index, the CLI and later the HTTP
//! server) never see SQL: they hold an `Arc<dyn Store>` (or an
//! `Arc<dyn Backend>`, both traits in one). The embedded SQLite implementation
//! ([`sqlite::SqliteStore`]) is the default; [`postgres::PostgresStore`] satisfies
//! the same traits with the same results. [`open`] picks one from a URL.
//!
//! What every implementation guarantees:
//!
//! * **Idempotent upsert.** Writing the same record twice changes nothing and is
//!   counted `unchanged`.
//! * **Revision history.** When a record changes a stored field, the old and new
//!   values, the load and the time are kept ([`Store::revisions`]).
//! * **Source precedence.** A field set by a more trusted kind of source
//!   ([`ntsb_model::SourceKind::precedence`]) is not overwritten by a less trusted
//!   one; a newer file of the same kind always wins. Unknown (null) values never
//!   overwrite known ones.
//! * **Nothing silently dropped.** A child record whose event is unknown is
//!   returned as a [`Reject`] with that reason.
//! * **Transactional batches.** [`Store::write_batch`] commits all of a batch or
//!   none of it, so a load killed at any moment leaves the store consistent and
//!   re-running it completes it.
#![deny(missing_docs)]

pub mod backup;
mod error;
pub mod postgres;
mod query;
pub mod sqlite;
pub mod training;
mod types;

pub use error::{Error, Result};
pub use query::{MAX_CLUSTER_POINTS, Queries};
pub use training::{TrainingData, TrainingFilter, TrainingRow};
pub use types::*;

use ntsb_model::SourceKind;
use ntsb_model::records::{Reject, SourcedRecord};

/// The storage interface every backend implements.
pub trait Store: Send + Sync {
    /// Applies every pending migration; returns the versions applied.
    fn migrate(&self) -> Result<Vec<i64>>;
    /// Rolls back the latest `steps` migrations; returns the versions undone.
    fn rollback(&self, steps: usize) -> Result<Vec<i64>>;
    /// Every known migration and whether it is applied.
    fn migration_status(&self) -> Result<Vec<MigrationStatus>>;

    /// Opens a ledger entry for loading one source file.
    fn begin_load(&self, source: &LoadSource) -> Result<LoadId>;
    /// Upserts a batch of records from one file in one transaction. Records whose
    /// event is unknown come back as rejects (already recorded in the ledger).
    fn write_batch(
        &self,
        load: LoadId,
        kind: SourceKind,
        file: &str,
        records: Vec<SourcedRecord>,
    ) -> Result<BatchOutcome>;
    /// Records rejects found by a reader (malformed rows) against a load.
    fn record_rejects(&self, load: LoadId, rejects: &[Reject]) -> Result<()>;
    /// Closes a ledger entry with its totals and status.
    fn finish_load(&self, load: LoadId, summary: &LoadSummary) -> Result<()>;
    /// Ledger entries, newest first.
    fn loads(&self, limit: usize) -> Result<Vec<LoadEntry>>;
    /// Rejects recorded for one load, in file order.
    fn rejects(&self, load: LoadId) -> Result<Vec<Reject>>;

    /// Row counts per table and the event date range.
    fn stats(&self) -> Result<StoreStats>;
    /// Field changes recorded for one event (by `ev_id`, or `ntsb_no` for events
    /// known only by case number), oldest first.
    fn revisions(&self, event: &str) -> Result<Vec<Revision>>;

    /// Events whose searchable text changed since the index last synced, up to
    /// `limit`. A document with `text == None` means "remove from the index".
    fn pending_index_docs(&self, limit: usize) -> Result<Vec<IndexDoc>>;
    /// Marks documents as indexed, after the index committed them.
    fn mark_indexed(&self, event_ids: &[i64]) -> Result<()>;
    /// Queues every event with text for re-indexing (after an index is rebuilt).
    fn requeue_all_for_index(&self) -> Result<u64>;

    /// A checksum of every record table's logical content (rows in key order,
    /// events named by `ev_id`/`ntsb_no` rather than internal ids; ledger,
    /// provenance and timestamps excluded). Two stores holding the same data give the same
    /// checksums whatever order or how many runs loaded them; backups use it to
    /// prove a restore.
    fn content_checksums(&self) -> Result<Vec<TableChecksum>>;

    /// Problems found by the database's own consistency checks (page integrity,
    /// foreign keys, orphan rows); empty when the store is sound.
    fn check_integrity(&self) -> Result<Vec<String>>;

    /// Whether this store holds the synthetic demo sample (`Some(true)`), real
    /// data (`Some(false)`), or nothing yet (`None`). Demo and real data never mix.
    fn content_kind(&self) -> Result<Option<bool>>;

    /// A number that changes whenever committed data changes, by this process or
    /// another one sharing the database (a load, a migration, an index
    /// acknowledgement). Cheap enough to call per request: caches of query
    /// answers key on it. Values are only compared for equality.
    fn data_version(&self) -> Result<u64>;

    /// How the backend's connection pool is used now, for metrics; `None` when
    /// the backend has no pool (an in-memory database).
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }

    /// Streams every table of a backup ([`backup::TABLES`]) to `sink` from one
    /// consistent snapshot, while loads and queries go on; reports the schema
    /// version and the content checksums of that same snapshot. Used by
    /// [`backup::backup`].
    fn dump_tables(&self, sink: &mut dyn backup::RowSink) -> Result<backup::DumpInfo>;

    /// Replaces the rows of every backup table with `source`'s in one
    /// transaction, and commits only if the result has `source`'s expected
    /// content checksums. Used by [`backup::restore`], which verifies the files first.
    fn restore_tables(&self, source: &mut dyn backup::RowSource) -> Result<()>;
}

/// The storage traits in one, so a caller can hold one `Arc<dyn Backend>` and
/// hand out `Arc<dyn Store>` and `Arc<dyn Queries>` views of it (trait upcasting),
/// or read training rows for the models from whichever backend it opened.
pub trait Backend: Store + Queries + TrainingData {
    /// `sqlite` or `postgres`.
    fn backend_name(&self) -> &'static str;

    /// The PostgreSQL store, for its own operations (pool status, change
    /// notifications); `None` for other backends.
    fn as_postgres(&self) -> Option<&postgres::PostgresStore> {
        None
    }
}

impl Backend for sqlite::SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }
}

impl Backend for postgres::PostgresStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    fn as_postgres(&self) -> Option<&postgres::PostgresStore> {
        Some(self)
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// Opens the store a URL names: `postgres://…` / `postgresql://…` is PostgreSQL
/// (default pool and timeouts, see [`postgres::PostgresConfig`]; use
/// [`postgres::PostgresStore::connect`] to set them); `sqlite:PATH`,
/// `sqlite://PATH` or a bare path is a SQLite file (created with its directory if
/// needed). Neither is migrated: call [`Store::migrate`] on a new database.
pub fn open(url_or_path: &str) -> Result<std::sync::Arc<dyn Backend>> {
    if is_postgres_url(url_or_path) {
        return Ok(std::sync::Arc::new(postgres::PostgresStore::open(url_or_path)?));
    }
    let path =
        url_or_path.strip_prefix("sqlite://").or_else(|| url_or_path.strip_prefix("sqlite:")).unwrap_or(url_or_path);
    if path.trim().is_empty() {
        return Err(Error::Config { url: url_or_path.to_string(), reason: "no file path given".into() });
    }
    if let Some((scheme, _)) = path.split_once("://") {
        return Err(Error::Config {
            url: postgres::redact(url_or_path),
            reason: format!("unsupported scheme {scheme:?}; use postgres://… or a SQLite path"),
        });
    }
    Ok(std::sync::Arc::new(sqlite::SqliteStore::open(std::path::Path::new(path))?))
}
