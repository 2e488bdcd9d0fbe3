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

pub mod accounts;
pub mod backup;
pub mod changes;
mod error;
pub mod facts;
mod merge;
mod migration_list;
pub mod postgres;
mod query;
mod sql;
pub mod sqlite;
pub mod streams;
pub mod training;
mod types;

pub use accounts::Accounts;
pub use changes::{Change, ChangeKind};
pub use error::{Error, Result};
pub use facts::{AircraftFacts, CodeDescriptions, CodeFact, EventFacts, Facts};
pub use query::cursor::{SortKey, decode as decode_cursor, encode as encode_cursor};
pub use query::{DocumentFuture, DocumentLookup, MAX_CLUSTER_POINTS, Queries, check_filter, detail_json};
pub use streams::{Cursor, Streams};

/// Events whose documents [`build_missing_documents`] builds per write transaction:
/// small enough that a writer waits at most a few tens of milliseconds.
pub const DOCUMENT_BATCH: usize = 500;

/// Builds every missing event detail document of `store` (see
/// [`Store::build_documents`]), a batch at a time; returns how many.
pub fn build_missing_documents(store: &dyn Store) -> Result<u64> {
    let mut total = 0;
    loop {
        let built = store.build_documents(DOCUMENT_BATCH)?;
        if built == 0 {
            return Ok(total);
        }
        total += built as u64;
    }
}
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
    ) -> Result<BatchOutcome> {
        self.write_stream_batch(load, kind, file, records, &[], &[])
    }
    /// [`Store::write_batch`] for a stream consumer: in the same transaction,
    /// also records `rejects` (malformed messages) against the load and stores
    /// `cursors` (where the consumer resumes), so the records, the rejects and
    /// the positions are committed together or not at all.
    fn write_stream_batch(
        &self,
        load: LoadId,
        kind: SourceKind,
        file: &str,
        records: Vec<SourcedRecord>,
        rejects: &[Reject],
        cursors: &[Cursor],
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

    /// Entries of the index change log after position `after`, oldest first, up
    /// to `limit`: each is an event whose searchable text changed, with its text
    /// as it is now (`text == None` means "remove it from the index").
    ///
    /// The log is shared, never consumed: every full-text index (one per API
    /// replica, or one shared by the CLI and a server) keeps the position of the
    /// last change it committed and asks for the ones after it, so any number of
    /// indexes follow the same store independently. Positions only grow while
    /// the store is written; a restore or a rollback can move them back
    /// ([`Store::index_log_head`] then lies below an index's position).
    fn index_changes(&self, after: u64, limit: usize) -> Result<Vec<IndexChange>>;

    /// Position of the latest entry of the index change log (0 when it is empty).
    fn index_log_head(&self) -> Result<u64>;

    /// Changes to events committed after position `after` of the change log,
    /// oldest first, up to `limit` (see [`changes`]): what a live feed or a
    /// publisher follows. `seq` order is commit order on every backend, so a
    /// reader that resumes after the last `seq` it handled misses nothing and
    /// sees nothing twice. Positions may have gaps (a rolled-back batch).
    fn changes(&self, after: u64, limit: usize) -> Result<Vec<Change>>;

    /// Position of the latest change (0 when the log is empty).
    fn change_log_head(&self) -> Result<u64>;

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

    /// A random identity of the store's data lineage, drawn when the schema is
    /// created and again by every restore: two stores (or one store before and
    /// after a restore) never share it. With [`Store::data_version`] it names
    /// one state of one store's data, which is what a cache shared between
    /// processes keys on. `None` before the store is migrated.
    fn store_id(&self) -> Result<Option<String>>;

    /// Whether [`Store::data_version`] is the database's own, the same in every
    /// process (PostgreSQL), rather than counted per process (SQLite). Only
    /// then may processes share answers keyed by it.
    fn data_version_is_global(&self) -> bool {
        false
    }

    /// Builds up to `limit` missing event detail documents (see
    /// [`Queries::event_detail_json`]) and returns how many it built; 0 means
    /// there is nothing to build now: every event has its document, the backend
    /// keeps none (the default), or (PostgreSQL) another process is writing and
    /// will move the data version when it commits. Holds the write lock while it
    /// runs, so call it in modest batches, repeatedly.
    fn build_documents(&self, limit: usize) -> Result<usize> {
        let _ = limit;
        Ok(0)
    }

    /// Whether a load builds the documents of what it changed before it finishes
    /// (SQLite: the loading process is often the only one). A PostgreSQL store
    /// leaves them to its servers' builders, so a load is not slowed by them and
    /// several replicas do not build the same documents twice.
    fn loads_build_documents(&self) -> bool {
        true
    }

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
/// hand out `Arc<dyn Store>`, `Arc<dyn Queries>`, `Arc<dyn Accounts>` and
/// `Arc<dyn TrainingData>` views of it (trait upcasting).
pub trait Backend: Store + Queries + Accounts + TrainingData + Facts + Streams {
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

/// Whether `store`'s schema is at the latest version this build knows; the
/// error says which version was found and which is needed.
pub fn require_latest_schema(store: &dyn Store) -> Result<()> {
    let status = store.migration_status()?;
    let needed = status.iter().map(|m| m.version).max().unwrap_or(0);
    let found = status.iter().filter(|m| m.applied_at.is_some()).map(|m| m.version).max().unwrap_or(0);
    if status.iter().any(|m| m.applied_at.is_none()) {
        return Err(Error::SchemaOutOfDate { found, needed });
    }
    Ok(())
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
