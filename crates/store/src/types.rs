//! Plain data types exchanged through the [`crate::Store`] interface.

use std::collections::BTreeMap;

use ntsb_model::records::Reject;
use serde::{Deserialize, Serialize};

/// Identifies one entry of the load ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LoadId(pub i64);

/// What is being loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadSource {
    /// Path as given by the user.
    pub path: String,
    /// Source kind name ([`ntsb_model::SourceKind::as_str`]) or format name.
    pub format: String,
    /// SHA-256 of the file, hex.
    pub checksum: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Counts for one table within a batch or a load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCounts {
    /// Rows that did not exist before.
    pub inserted: u64,
    /// Rows that existed and had at least one field changed.
    pub updated: u64,
    /// Rows that existed with the same values.
    pub unchanged: u64,
    /// Records refused (malformed, or referring to an unknown event).
    pub rejected: u64,
}

impl TableCounts {
    /// Adds another set of counts to this one.
    pub fn add(&mut self, other: &TableCounts) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected += other.rejected;
    }

    /// Rows written (inserted or updated).
    pub fn writes(&self) -> u64 {
        self.inserted + self.updated
    }
}

/// What one [`crate::Store::write_batch`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// Counts by table name.
    pub tables: BTreeMap<String, TableCounts>,
    /// Records refused by the store, with reasons.
    pub rejects: Vec<Reject>,
}

/// Final totals of one load, written to the ledger.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// Counts by table name (reader rejects included under their table, or
    /// `"unparsed"` when the table is not known).
    pub tables: BTreeMap<String, TableCounts>,
    /// `completed` or `failed: reason`.
    pub status: String,
    /// Wall time of the load in milliseconds.
    pub duration_ms: u64,
}

impl LoadSummary {
    /// Sum over every table.
    pub fn total(&self) -> TableCounts {
        let mut t = TableCounts::default();
        for c in self.tables.values() {
            t.add(c);
        }
        t
    }
}

/// One entry of the load ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadEntry {
    /// Ledger id.
    pub id: LoadId,
    /// What was loaded.
    pub source: LoadSource,
    /// RFC 3339 start time.
    pub started_at: String,
    /// RFC 3339 end time, `None` while running (or if the process died).
    pub finished_at: Option<String>,
    /// `running`, `completed` or `failed: …`.
    pub status: String,
    /// Totals.
    pub counts: TableCounts,
    /// Wall time in milliseconds.
    pub duration_ms: Option<u64>,
}

/// A migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationStatus {
    /// Version number, increasing.
    pub version: i64,
    /// Short name.
    pub name: String,
    /// RFC 3339 time it was applied, `None` if pending.
    pub applied_at: Option<String>,
}

/// Row counts and coverage of the store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreStats {
    /// Rows per table, in schema order.
    pub tables: Vec<(String, u64)>,
    /// Earliest event date (ISO).
    pub first_event: Option<String>,
    /// Latest event date (ISO).
    pub last_event: Option<String>,
    /// Events with a non-empty narrative.
    pub events_with_narrative: u64,
    /// Events with a non-empty probable cause.
    pub events_with_probable_cause: u64,
}

/// One field change kept in the revision history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// Table of the changed row.
    pub table: String,
    /// Key of the changed row within its event, as text (`"1"`, `"1/2"`).
    pub row_key: String,
    /// Changed field.
    pub field: String,
    /// Value before, `None` if unknown.
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
    /// Load that made the change.
    pub load: LoadId,
    /// Source file of that load.
    pub source: String,
    /// RFC 3339 time of the change.
    pub changed_at: String,
}

/// The searchable text of one event, for the full-text index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexDoc {
    /// Store's internal event id (stable, the index key).
    pub event_id: i64,
    /// NTSB event id, when known.
    pub ev_id: Option<String>,
    /// NTSB case number, when known.
    pub ntsb_no: Option<String>,
    /// ISO event date.
    pub event_date: Option<String>,
    /// Narrative and probable cause text; `None` to remove the document.
    pub text: Option<IndexText>,
}

/// One entry of the index change log ([`crate::Store::index_changes`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexChange {
    /// Position in the log; an index that committed this change resumes after it.
    pub seq: u64,
    /// The event's document as it is now.
    pub doc: IndexDoc,
}

/// Text fields of an [`IndexDoc`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IndexText {
    /// All narrative text of the event (event-level and per aircraft, joined).
    pub narrative: String,
    /// Probable cause statement(s).
    pub probable_cause: String,
}

/// Row count and content checksum of one record table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableChecksum {
    /// Table name.
    pub table: String,
    /// Rows.
    pub rows: u64,
    /// SHA-256 over the rows in key order, hex.
    pub sha256: String,
}

/// Connection pool usage at one moment ([`crate::Store::pool_status`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStatus {
    /// Connections lent out to queries now.
    pub in_use: u64,
    /// Open connections waiting for work.
    pub idle: u64,
    /// Most idle connections kept (SQLite opens more under load and closes the
    /// extra ones after); the hard limit for pools that have one.
    pub max_idle: u64,
}
