//! The change feed: every committed change to an event, numbered in commit order.
//!
//! A write batch collects what it did to each event in a [`ChangeSet`] (created;
//! updated, with the fields it changed; deleted) and, in the same transaction,
//! appends one `change_log` row per event it touched (migration 0012). `seq`
//! orders the rows in commit order on both backends, because every writer of the
//! log holds the store's write lock while it takes sequence numbers and until it
//! commits (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the writers' advisory lock in
//! `write_batch`). A reader that has seen `seq = n` has therefore seen every
//! change committed before it, and asks for those after `n`
//! ([`crate::Store::changes`]); the log is never consumed, so any number of
//! readers (feed engines of API replicas, a Kafka publisher) follow it
//! independently.
//!
//! What is recorded per event and batch (one row, however many records of the
//! batch touched the event):
//!
//! * `created`: the event row was inserted (its child rows in the same batch are
//!   part of the creation, so no fields are listed);
//! * `updated`: `fields` lists `table.column` for every stored value that changed
//!   (a replaced value or a filled null), and `table` alone for a row added to a
//!   child table (`aircraft`, `findings`, …); `merged` when a placeholder event
//!   (known only by its NTSB number) was merged into it;
//! * `deleted`: the event row is gone (today only a placeholder merged into the
//!   real event); `ev_id`/`ntsb_no` are those it had.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::sql::{Conn, limit_arg, to_i64, to_u64};

/// What happened to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// The event was stored for the first time.
    Created,
    /// Some of its stored values or rows changed.
    Updated,
    /// The event is gone.
    Deleted,
}

impl ChangeKind {
    /// `created`, `updated` or `deleted`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Deleted => "deleted",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(s: &str) -> Option<ChangeKind> {
        match s {
            "created" => Some(ChangeKind::Created),
            "updated" => Some(ChangeKind::Updated),
            "deleted" => Some(ChangeKind::Deleted),
            _ => None,
        }
    }
}

/// One committed change to one event ([`crate::Store::changes`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Position in the change log, in commit order; a follower resumes after it.
    pub seq: u64,
    /// The store's internal id of the event (for [`ntsb_model::query::EventFilter::event_ids`];
    /// not an identifier to show anyone).
    pub event_id: i64,
    /// The event's `ev_id` (`None` for an event known only by its NTSB number).
    pub ev_id: Option<String>,
    /// The event's NTSB number, when known.
    pub ntsb_no: Option<String>,
    /// Created, updated or deleted.
    pub kind: ChangeKind,
    /// For updates, what changed: `table.column`, or `table` for an added row,
    /// sorted; empty for creations and deletions.
    pub fields: Vec<String>,
    /// The ledger entry (load) that made the change.
    pub load: Option<i64>,
    /// RFC 3339 time of the change.
    pub changed_at: String,
}

/// Appends one change (SQLite, one row a statement; a prepared statement costs
/// microseconds there). The event's current `ev_id`/`ntsb_no` are read in the
/// same statement; the given ones stand for a deleted event.
pub(crate) const INSERT_CHANGE_ONE: &str = "INSERT INTO change_log (event_id, ev_id, ntsb_no, kind, fields, load_id, changed_at) \
     SELECT c.id, coalesce(e.ev_id, ?4), coalesce(e.ntsb_no, ?5), ?2, ?3, ?6, ?7 \
     FROM (SELECT ?1 AS id) AS c LEFT JOIN events e ON e.id = c.id";

/// Appends the changes of a batch in one statement (PostgreSQL: one round trip
/// for thousands of events). Same columns and meaning as [`INSERT_CHANGE_ONE`].
pub(crate) const INSERT_CHANGES_MANY: &str = "INSERT INTO change_log (event_id, ev_id, ntsb_no, kind, fields, load_id, changed_at) \
     SELECT c.id, coalesce(e.ev_id, c.ev), coalesce(e.ntsb_no, c.no), c.kind, c.fields, ?6, ?7 \
     FROM unnest(?1::bigint[], ?2::text[], ?3::text[], ?4::text[], ?5::text[]) WITH ORDINALITY AS c(id, kind, fields, ev, no, n) \
     LEFT JOIN events e ON e.id = c.id ORDER BY c.n";

#[derive(Debug)]
struct Pending {
    kind: ChangeKind,
    fields: BTreeSet<String>,
    ev_id: Option<String>,
    ntsb_no: Option<String>,
}

/// What one write batch did to each event, in the order events were first touched.
#[derive(Debug, Default)]
pub(crate) struct ChangeSet {
    order: Vec<i64>,
    events: HashMap<i64, Pending>,
}

/// One row to append: event id, kind, fields (JSON array), and the `ev_id`/`ntsb_no`
/// of a deleted event.
pub(crate) struct ChangeRow {
    pub event_id: i64,
    pub kind: &'static str,
    pub fields: String,
    pub ev_id: Option<String>,
    pub ntsb_no: Option<String>,
}

impl ChangeSet {
    fn entry(&mut self, event_id: i64, kind: ChangeKind) -> &mut Pending {
        if !self.events.contains_key(&event_id) {
            self.order.push(event_id);
        }
        self.events.entry(event_id).or_insert_with(|| Pending {
            kind,
            fields: BTreeSet::new(),
            ev_id: None,
            ntsb_no: None,
        })
    }

    /// The event was inserted.
    pub(crate) fn created(&mut self, event_id: i64) {
        let p = self.entry(event_id, ChangeKind::Created);
        p.kind = ChangeKind::Created;
        p.fields.clear();
    }

    /// `table.column` of the event (or of one of its rows) changed.
    pub(crate) fn field(&mut self, event_id: i64, table: &str, column: &str) {
        let p = self.entry(event_id, ChangeKind::Updated);
        if p.kind == ChangeKind::Updated {
            p.fields.insert(format!("{table}.{column}"));
        }
    }

    /// A row of `table` (or another marker, e.g. `merged`) was added to the event.
    pub(crate) fn row_added(&mut self, event_id: i64, table: &str) {
        let p = self.entry(event_id, ChangeKind::Updated);
        if p.kind == ChangeKind::Updated {
            p.fields.insert(table.to_string());
        }
    }

    /// The event row was deleted; `ev_id`/`ntsb_no` are what it had. An event
    /// created and deleted in the same batch leaves no trace.
    pub(crate) fn deleted(&mut self, event_id: i64, ev_id: Option<String>, ntsb_no: Option<String>) {
        if self.events.get(&event_id).is_some_and(|p| p.kind == ChangeKind::Created) {
            self.events.remove(&event_id);
            self.order.retain(|id| *id != event_id);
            return;
        }
        let p = self.entry(event_id, ChangeKind::Deleted);
        p.kind = ChangeKind::Deleted;
        p.fields.clear();
        p.ev_id = ev_id;
        p.ntsb_no = ntsb_no;
    }

    /// Whether nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Takes the rows to append, in first-touched order, leaving the set empty.
    pub(crate) fn take_rows(&mut self) -> Vec<ChangeRow> {
        let order = std::mem::take(&mut self.order);
        let mut events = std::mem::take(&mut self.events);
        order
            .into_iter()
            .filter_map(|id| events.remove(&id).map(|p| (id, p)))
            .map(|(event_id, p)| ChangeRow {
                event_id,
                kind: p.kind.as_str(),
                fields: serde_json::to_string(&p.fields).unwrap_or_else(|_| "[]".into()),
                ev_id: p.ev_id,
                ntsb_no: p.ntsb_no,
            })
            .collect()
    }
}

/// Reads the log after a position, oldest first (written once for both backends).
pub(crate) fn read_changes(db: &mut dyn Conn, after: u64, limit: usize) -> crate::Result<Vec<Change>> {
    type Columns = (i64, i64, Option<String>, Option<String>, String, String, Option<i64>, String);
    let rows: Vec<Columns> = db.query(
        "SELECT seq, event_id, ev_id, ntsb_no, kind, fields, load_id, changed_at \
         FROM change_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        &[to_i64(after).into(), limit_arg(limit)],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
    )?;
    rows.into_iter()
        .map(|(seq, event_id, ev_id, ntsb_no, kind, fields, load, changed_at)| {
            let kind = ChangeKind::parse(&kind)
                .ok_or_else(|| crate::Error::Corrupt(format!("change {seq} has unknown kind {kind:?}")))?;
            let fields: Vec<String> = serde_json::from_str(&fields)
                .map_err(|e| crate::Error::Corrupt(format!("change {seq} has unreadable fields: {e}")))?;
            Ok(Change { seq: to_u64(seq), event_id, ev_id, ntsb_no, kind, fields, load, changed_at })
        })
        .collect()
}

/// The position of the latest change (0 when the log is empty).
pub(crate) fn read_head(db: &mut dyn Conn) -> crate::Result<u64> {
    Ok(db.scalar::<Option<i64>>("SELECT max(seq) FROM change_log", &[])?.map_or(0, to_u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_keeps_one_row_per_event_in_first_touched_order() {
        let mut set = ChangeSet::default();
        set.field(7, "events", "ev_state");
        set.created(3);
        set.row_added(3, "aircraft");
        set.row_added(7, "findings");
        set.field(7, "events", "ev_state");
        let rows = set.take_rows();
        assert_eq!(rows.iter().map(|r| (r.event_id, r.kind)).collect::<Vec<_>>(), [(7, "updated"), (3, "created")]);
        assert_eq!(rows[0].fields, r#"["events.ev_state","findings"]"#);
        assert_eq!(rows[1].fields, "[]");
        assert!(set.is_empty());
    }

    #[test]
    fn deleting_an_event_created_in_the_batch_leaves_nothing() {
        let mut set = ChangeSet::default();
        set.created(1);
        set.deleted(1, None, Some("X".into()));
        set.field(2, "events", "ev_city");
        set.deleted(2, Some("E2".into()), None);
        let rows = set.take_rows();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].event_id, rows[0].kind, rows[0].fields.as_str()), (2, "deleted", "[]"));
        assert_eq!(rows[0].ev_id.as_deref(), Some("E2"));
    }
}
