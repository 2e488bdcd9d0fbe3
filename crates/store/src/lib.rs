//! Storage for NTSB records behind one interface, [`Store`].
//!
//! Callers (the ingest pipeline, the search index, the CLI and later the HTTP
//! server) never see SQL: they hold an `Arc<dyn Store>`. The embedded SQLite
//! implementation ([`sqlite::SqliteStore`]) is the default; a PostgreSQL one will
//! satisfy the same trait.
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

mod error;
mod query;
pub mod sqlite;
mod types;

pub use error::{Error, Result};
pub use query::{MAX_CLUSTER_POINTS, Queries};
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
}
