//! The generic upsert behind [`crate::Store::write_batch`] for PostgreSQL.
//!
//! A port of `sqlite/upsert.rs` with the same rules (precedence, generations,
//! revisions, placeholders and their merging, the index queue); SQL text is
//! derived once from the static [`TableSpec`]s (never from input).
//!
//! What differs is how it talks to the server, because a network round trip
//! costs far more than a SQLite call:
//!
//! * **Read ahead.** Before the records are applied, one query per table reads
//!   every stored row the batch can touch: the events its `ev_id`s name, and all
//!   child rows of those events (or, for root tables, the rows with the batch's
//!   keys). Lookups then hit memory; a row not found there is known not to exist.
//! * **Deferred inserts.** New rows are buffered and written with multi-row
//!   `INSERT`s when the batch ends (new events get ids from their sequence up
//!   front, so their children can refer to them). A later record of the same
//!   batch that changes a buffered row changes the buffer.
//! * **Rare paths stay direct.** Whatever reads the tables in SQL (case-number
//!   resolution through the crosswalk, placeholders and their merging) first
//!   writes the buffer, and merging drops what was read ahead, then continues
//!   with plain queries, exactly as in SQLite.
//!
//! Re-loading unchanged data therefore costs a few queries per batch, and a first
//! load one round trip per new event plus one per thousand child rows.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use ntsb_model::SourceKind;
use ntsb_model::normalize::base_ntsb_no;
use ntsb_model::records::{EventRef, Record, RecordParts, Reject, TableSpec};
use ntsb_model::value::Value;
use postgres::Row;

use std::io::Write;

use super::sql::{Db, Param, Pg, push_copy, value_at};
use crate::changes::{ChangeSet, INSERT_CHANGES_MANY};
use crate::{BatchOutcome, Error, Result, TableCounts};

/// Name of the event table, the parent of every child table.
pub(crate) const EVENTS: &str = "events";
/// Name of the narrative table, whose changes feed the search index.
pub(crate) const NARRATIVES: &str = "narratives";

/// SQL statements of one table, derived from its spec.
pub(crate) struct TableSql {
    /// The table.
    pub spec: &'static TableSpec,
    /// Columns compared and updated: the data columns (and `ntsb_no` for events).
    pub cols: Vec<&'static str>,
    /// Whether the table has a surrogate `id` (events and their children).
    has_id: bool,
    /// `SELECT id, field_sources, cols…` by the row's key (by `ev_id` for events).
    select_by_key: String,
    /// Same columns, by id.
    select_by_id: String,
    /// `COPY t (cols…) FROM STDIN` of the buffered rows (events with their
    /// preassigned `id` first).
    copy_in: String,
    /// `INSERT` of one buffered row, for small flushes (one round trip, where
    /// COPY takes three).
    insert_one: String,
    /// Values in a buffered row.
    insert_width: usize,
    /// Buffered updates (tables with an id): a temporary table shaped like the
    /// updated columns, filled by COPY, applied with one `UPDATE … FROM`.
    update_temp: String,
    update_copy: String,
    update_apply: String,
    /// Index of the first compared column in a buffered row's values.
    values_at: usize,
    /// For child tables: rewrites a row found by event and key (for rows
    /// inserted by this batch, whose id is not known).
    update_by_key: String,
    /// For child tables: every row of a set of events, with `event_id` and the
    /// key columns after the compared columns (read-ahead).
    select_by_events: String,
    /// For root tables with text keys: rows with any of a set of keys (read-ahead).
    select_by_keys: String,
    /// Rewrites every compared column and `field_sources`, by id or by key.
    update: String,
    /// For child tables: moves rows from one event to another, skipping rows
    /// whose key the target already has (empty for other tables).
    move_children: String,
}

impl TableSql {
    /// Derives the statements of `spec`.
    pub(crate) fn new(spec: &'static TableSpec) -> TableSql {
        let is_event = spec.name == EVENTS;
        let has_id = is_event || spec.child_of_event;
        let name = spec.name;
        let cols: Vec<&'static str> = if is_event {
            std::iter::once("ntsb_no").chain(spec.columns.iter().copied()).collect()
        } else {
            spec.columns.to_vec()
        };
        let id = if has_id { "id" } else { "0::bigint" };
        let head = format!("SELECT {id}, field_sources, {} FROM {name}", cols.join(", "));
        let key_conds: Vec<String> = spec.key_columns.iter().map(|k| format!("{k} = ?")).collect();
        let select_by_key = if is_event {
            format!("{head} WHERE ev_id = ?")
        } else {
            let mut conds: Vec<String> = Vec::new();
            if spec.child_of_event {
                conds.push("event_id = ?".into());
            }
            conds.extend(key_conds.iter().cloned());
            format!("{head} WHERE {}", conds.join(" AND "))
        };
        // Root tables have no id: they are read and written by their key only.
        let select_by_id = if has_id { format!("{head} WHERE id = ?") } else { String::new() };
        let mut insert_cols: Vec<&str> = Vec::new();
        if is_event {
            insert_cols.push("ev_id");
        } else {
            if spec.child_of_event {
                insert_cols.push("event_id");
            }
            insert_cols.extend(spec.key_columns.iter().copied());
        }
        insert_cols.extend(cols.iter().copied());
        insert_cols.push("field_sources");
        if is_event {
            insert_cols.extend(["created_load", "updated_load"]);
        }
        let mut buffered_cols = insert_cols.clone();
        if is_event {
            buffered_cols.insert(0, "id");
        }
        let copy_in = format!("COPY {name} ({}) FROM STDIN", buffered_cols.join(", "));
        let insert_one = format!(
            "INSERT INTO {name} ({}) VALUES ({})",
            buffered_cols.join(", "),
            vec!["?"; buffered_cols.len()].join(", ")
        );
        let insert_width = buffered_cols.len();
        let values_at = if is_event { 2 } else { usize::from(spec.child_of_event) + spec.key_columns.len() };
        let keys_list = spec.key_columns.join(", ");
        let (select_by_events, select_by_keys) = if spec.child_of_event {
            let sep = if keys_list.is_empty() { "" } else { ", " };
            (
                format!(
                    "{head_all}, event_id{sep}{keys_list} FROM {name} WHERE event_id = ANY(?)",
                    head_all = head.trim_end_matches(&format!(" FROM {name}"))
                ),
                String::new(),
            )
        } else if is_event {
            (String::new(), String::new())
        } else {
            let arrays: Vec<String> = spec.key_columns.iter().map(|_| "?::text[]".to_string()).collect();
            (
                String::new(),
                format!(
                    "{head_all}, {keys_list} FROM {name} WHERE ({keys_list}) IN (SELECT * FROM unnest({}))",
                    arrays.join(", "),
                    head_all = head.trim_end_matches(&format!(" FROM {name}"))
                ),
            )
        };
        let mut sets: Vec<String> = cols.iter().map(|c| format!("{c} = ?")).collect();
        sets.push("field_sources = ?".into());
        if is_event {
            sets.push("updated_load = ?".into());
        }
        let target = if has_id { "id = ?".to_string() } else { key_conds.join(" AND ") };
        let update = format!("UPDATE {name} SET {} WHERE {target}", sets.join(", "));
        let mut update_cols: Vec<&str> = vec!["id"];
        update_cols.extend(cols.iter().copied());
        update_cols.push("field_sources");
        if is_event {
            update_cols.push("updated_load");
        }
        let temp = format!("ntsb_update_{name}");
        let update_temp = format!(
            "CREATE TEMP TABLE IF NOT EXISTS {temp} ON COMMIT DROP AS SELECT {} FROM {name} WITH NO DATA",
            update_cols.join(", ")
        );
        let update_copy = format!("COPY {temp} ({}) FROM STDIN", update_cols.join(", "));
        let assignments: Vec<String> = update_cols.iter().skip(1).map(|c| format!("{c} = u.{c}")).collect();
        let update_apply = format!("UPDATE {name} t SET {} FROM {temp} u WHERE t.id = u.id", assignments.join(", "));
        let update_by_key = if spec.child_of_event {
            let mut conds = vec!["event_id = ?".to_string()];
            conds.extend(key_conds.iter().cloned());
            format!("UPDATE {name} SET {} WHERE {}", sets.join(", "), conds.join(" AND "))
        } else {
            String::new()
        };
        let move_children = if spec.child_of_event {
            let same_key: Vec<String> = spec.key_columns.iter().map(|k| format!("x.{k} = {name}.{k}")).collect();
            let same_key = if same_key.is_empty() { String::new() } else { format!(" AND {}", same_key.join(" AND ")) };
            format!(
                "UPDATE {name} SET event_id = ?1 WHERE event_id = ?2 \
                 AND NOT EXISTS (SELECT 1 FROM {name} x WHERE x.event_id = ?1{same_key})"
            )
        } else {
            String::new()
        };
        TableSql {
            spec,
            cols,
            has_id,
            select_by_key,
            select_by_id,
            copy_in,
            insert_one,
            update_temp,
            update_copy,
            update_apply,
            insert_width,
            values_at,
            update_by_key,
            select_by_events,
            select_by_keys,
            update,
            move_children,
        }
    }

    /// Every statement, so a test can check they all prepare against the schema.
    #[cfg(test)]
    pub(crate) fn all_sql(&self) -> Vec<&str> {
        [
            &self.select_by_key,
            &self.select_by_id,
            &self.update,
            &self.move_children,
            &self.update_by_key,
            &self.insert_one,
            &self.select_by_events,
            &self.select_by_keys,
        ]
        .into_iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect()
    }

    fn is_event(&self) -> bool {
        self.spec.name == EVENTS
    }
}

/// Statements of every table in [`Record::ALL_SPECS`], by table name.
pub(crate) fn all_tables() -> HashMap<&'static str, TableSql> {
    Record::ALL_SPECS.iter().map(|s| (s.name, TableSql::new(s))).collect()
}

/// A stored row as the upsert sees it.
#[derive(Clone)]
struct StoredRow {
    rowid: i64,
    sources: String,
    values: Vec<Value>,
}

fn read_row(row: &Row, ncols: usize) -> Result<StoredRow> {
    let mut values = Vec::with_capacity(ncols);
    for i in 0..ncols {
        values.push(value_at(row, i + 2)?);
    }
    Ok(StoredRow { rowid: row.try_get(0)?, sources: row.try_get(1)?, values })
}

type Sources = BTreeMap<String, String>;

fn parse_sources(table: &str, raw: &str) -> Result<Sources> {
    serde_json::from_str(raw).map_err(|e| Error::Corrupt(format!("{table}.field_sources is not a JSON object: {e}")))
}

fn sources_json(sources: &Sources) -> Result<String> {
    serde_json::to_string(sources).map_err(|e| Error::Corrupt(format!("field_sources cannot be encoded: {e}")))
}

/// Trimmed non-empty text of a key value.
fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A case number and its form without a per-aircraft suffix, without repeats.
fn ntsb_candidates(no: &str) -> Vec<String> {
    let base = base_ntsb_no(no);
    if base == no { vec![base] } else { vec![no.to_string(), base] }
}

/// What happened to one record.
enum Written {
    Inserted,
    Updated,
    Unchanged,
}

/// Why a record was refused.
struct Refusal {
    field: Option<&'static str>,
    reason: String,
}

/// A `field_sources` entry: `kind:generation` (or plain `kind`, generation 0).
fn parse_tag(tag: &str) -> Option<(SourceKind, i64)> {
    let (kind, generation) = match tag.split_once(':') {
        Some((k, g)) => (k, g.parse().ok()?),
        None => (tag, 0),
    };
    Some((SourceKind::parse(kind)?, generation))
}

/// The generation of a load: the first ledger entry with the same content
/// (same checksum, or same label for sources without a file).
fn generation_of(db: &mut Db<'_, '_>, load: i64) -> Result<i64> {
    let found = db.query_opt("SELECT checksum, path FROM loads WHERE id = ?1", &[&load])?;
    let Some(row) = found else { return Ok(load) };
    let (checksum, path): (String, String) = (row.try_get(0)?, row.try_get(1)?);
    let first: Option<i64> = if checksum.is_empty() {
        db.query_one("SELECT min(id) FROM loads WHERE checksum = '' AND path = ?1", &[&path])?.try_get(0)?
    } else {
        db.query_one("SELECT min(id) FROM loads WHERE checksum = ?1", &[&checksum])?.try_get(0)?
    };
    Ok(first.unwrap_or(load))
}

/// `StoredRow::rowid` of a row buffered in this batch, not yet inserted: the
/// row is `pending[table][rowid - PENDING]`.
const PENDING: i64 = i64::MIN / 2;

/// `StoredRow::rowid` of a child row this batch inserted, whose id is not
/// known: it is updated by event and key.
const BY_KEY: i64 = i64::MIN;

/// Where a stored row is kept in the read-ahead: table, owning event (`None`
/// for root tables and for events themselves… which use their id), key.
type Slot = (&'static str, Option<i64>, String);

/// Buffered rows of one table written with single-row INSERTs rather than COPY.
const SMALL_FLUSH: usize = 8;

/// A key as text that cannot collide between different values or types.
fn key_repr(key: &[Value]) -> Option<String> {
    let mut out = String::new();
    for v in key {
        match v {
            Value::Null => return None,
            Value::Int(i) => out.push_str(&format!("i{i}|")),
            Value::Real(r) => out.push_str(&format!("r{r:?}|")),
            Value::Text(t) => out.push_str(&format!("t{}:{t}|", t.len())),
        }
    }
    Some(out)
}

/// What the batch has read ahead and what it has yet to write.
#[derive(Default)]
struct Cache {
    /// Stored (or buffered) rows by slot.
    rows: HashMap<Slot, StoredRow>,
    /// (child table, event) pairs whose every stored row is in `rows`.
    covered_children: HashSet<(&'static str, i64)>,
    /// Events created by this batch: no stored children anywhere.
    new_events: HashSet<i64>,
    /// (root table, key) pairs looked up ahead.
    covered_roots: HashSet<(&'static str, String)>,
    /// Event rows (by id) in `rows`.
    covered_events: HashSet<i64>,
    /// `ev_id`s known not to be stored.
    ev_absent: HashSet<String>,
    /// Placeholder events (no `ev_id`) by case number, when read ahead.
    placeholders: Option<HashMap<String, Vec<i64>>>,
    /// Rows to insert, by table.
    pending: BTreeMap<&'static str, Vec<Vec<Value>>>,
    /// Slots of the rows in `pending`, to mark them written after a flush.
    pending_slots: Vec<Slot>,
    /// Rewritten rows of tables with an id, by table and id: `id`, compared
    /// columns, `field_sources` (and `updated_load` for events).
    updates: BTreeMap<&'static str, BTreeMap<i64, Vec<Value>>>,
    /// Events to (re)index.
    index: BTreeSet<i64>,
    /// Event ids drawn from the sequence, not used yet.
    ids: Vec<i64>,
}

/// State of one `write_batch` call, inside its transaction.
pub(crate) struct Batch<'d, 'c, 's> {
    db: &'d mut Db<'c, 's>,
    tables: &'d HashMap<&'static str, TableSql>,
    load: i64,
    kind: SourceKind,
    file: &'d str,
    now: String,
    counts: BTreeMap<&'static str, TableCounts>,
    rejects: Vec<Reject>,
    /// ev_id → events.id, positive answers only.
    ev_cache: HashMap<String, i64>,
    /// ntsb_no → events.id; cleared whenever a placeholder is merged away.
    no_cache: HashMap<String, i64>,
    /// Whether any placeholder event (ev_id NULL) may exist.
    placeholders_possible: bool,
    /// Generation of this batch's file (see `sqlite/upsert.rs`).
    generation: i64,
    /// `kind:generation`, as recorded in `field_sources`.
    source_tag: String,
    cache: Cache,
    /// What the batch did to each event, for the change log.
    changes: ChangeSet,
}

impl<'d, 'c, 's> Batch<'d, 'c, 's> {
    /// Starts a batch inside an open transaction.
    pub(crate) fn new(
        db: &'d mut Db<'c, 's>,
        tables: &'d HashMap<&'static str, TableSql>,
        load: i64,
        kind: SourceKind,
        file: &'d str,
    ) -> Result<Batch<'d, 'c, 's>> {
        let placeholders_possible: bool =
            db.query_one("SELECT EXISTS (SELECT 1 FROM events WHERE ev_id IS NULL)", &[])?.try_get(0)?;
        let generation = generation_of(db, load)?;
        Ok(Batch {
            generation,
            source_tag: format!("{}:{generation}", kind.as_str()),
            db,
            tables,
            load,
            kind,
            file,
            now: chrono::Utc::now().to_rfc3339(),
            counts: BTreeMap::new(),
            rejects: Vec::new(),
            ev_cache: HashMap::new(),
            no_cache: HashMap::new(),
            placeholders_possible,
            cache: Cache::default(),
            changes: ChangeSet::default(),
        })
    }

    /// Appends one change-log row per event the batch touched (see
    /// `crate::changes`) in one statement; call once, after [`Batch::flush`],
    /// under the write lock.
    pub(crate) fn record_changes(&mut self) -> Result<()> {
        if self.changes.is_empty() {
            return Ok(());
        }
        let rows = self.changes.take_rows();
        let ids: Vec<i64> = rows.iter().map(|r| r.event_id).collect();
        let kinds: Vec<&str> = rows.iter().map(|r| r.kind).collect();
        let fields: Vec<&str> = rows.iter().map(|r| r.fields.as_str()).collect();
        let evs: Vec<Option<&str>> = rows.iter().map(|r| r.ev_id.as_deref()).collect();
        let nos: Vec<Option<&str>> = rows.iter().map(|r| r.ntsb_no.as_deref()).collect();
        self.db.execute(INSERT_CHANGES_MANY, &[&ids, &kinds, &fields, &evs, &nos, &self.load, &self.now])?;
        Ok(())
    }

    /// Reads ahead every stored row the records can touch (see the module doc).
    pub(crate) fn read_ahead(&mut self, records: &[RecordParts]) -> Result<()> {
        // Events by ev_id.
        let mut ev_ids: BTreeSet<String> = BTreeSet::new();
        for r in records {
            if r.spec.name == EVENTS {
                if let Some(ev) = r.key.first().and_then(key_text) {
                    ev_ids.insert(ev);
                }
            } else if let Some(EventRef::EvId(ev)) = &r.event
                && !ev.trim().is_empty()
            {
                ev_ids.insert(ev.trim().to_string());
            }
        }
        if !ev_ids.is_empty() {
            let list: Vec<String> = ev_ids.iter().cloned().collect();
            for row in self.db.query("SELECT id, ev_id FROM events WHERE ev_id = ANY(?)", &[&list])? {
                let (id, ev): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
                self.ev_cache.insert(ev, id);
            }
            self.cache.ev_absent = ev_ids.into_iter().filter(|e| !self.ev_cache.contains_key(e)).collect();
        }
        // Event rows of the events this batch describes.
        let event_ids: Vec<i64> = records
            .iter()
            .filter(|r| r.spec.name == EVENTS)
            .filter_map(|r| r.key.first().and_then(key_text))
            .filter_map(|ev| self.ev_cache.get(&ev).copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !event_ids.is_empty() {
            let t = self.table(EVENTS)?;
            let sql = t.select_by_id.replace("WHERE id = ?", "WHERE id = ANY(?)");
            let ncols = t.cols.len();
            for row in self.db.query(&sql, &[&event_ids])? {
                let stored = read_row(&row, ncols)?;
                self.cache.covered_events.insert(stored.rowid);
                self.cache.rows.insert((EVENTS, Some(stored.rowid), String::new()), stored);
            }
        }
        // Placeholders by case number.
        if self.placeholders_possible {
            let mut map: HashMap<String, Vec<i64>> = HashMap::new();
            for row in self.db.query("SELECT id, ntsb_no FROM events WHERE ev_id IS NULL ORDER BY id", &[])? {
                let (id, no): (i64, Option<String>) = (row.try_get(0)?, row.try_get(1)?);
                if let Some(no) = no {
                    map.entry(no).or_default().push(id);
                }
            }
            self.cache.placeholders = Some(map);
        }
        // Child rows of the known events, table by table.
        let mut by_table: BTreeMap<&'static str, BTreeSet<i64>> = BTreeMap::new();
        let mut root_keys: BTreeMap<&'static str, Vec<Vec<String>>> = BTreeMap::new();
        for r in records {
            if r.spec.child_of_event {
                if let Some(EventRef::EvId(ev)) = &r.event
                    && let Some(id) = self.ev_cache.get(ev.trim())
                {
                    by_table.entry(r.spec.name).or_default().insert(*id);
                }
            } else if r.spec.name != EVENTS {
                let texts: Option<Vec<String>> =
                    r.key.iter().map(|v| if let Value::Text(t) = v { Some(t.clone()) } else { None }).collect();
                if let Some(texts) = texts {
                    root_keys.entry(r.spec.name).or_default().push(texts);
                }
            }
        }
        for (name, ids) in by_table {
            let t = self.table(name)?;
            let ids: Vec<i64> = ids.into_iter().collect();
            let ncols = t.cols.len();
            let nkeys = t.spec.key_columns.len();
            for row in self.db.query(&t.select_by_events, &[&ids])? {
                let stored = read_row(&row, ncols)?;
                let event_id: i64 = row.try_get(2 + ncols)?;
                let key = (0..nkeys).map(|k| value_at(&row, 3 + ncols + k)).collect::<Result<Vec<_>>>()?;
                if let Some(repr) = key_repr(&key) {
                    self.cache.rows.insert((name, Some(event_id), repr), stored);
                }
            }
            self.cache.covered_children.extend(ids.into_iter().map(|id| (name, id)));
        }
        for (name, keys) in root_keys {
            let t = self.table(name)?;
            let nkeys = t.spec.key_columns.len();
            let columns: Vec<Vec<String>> =
                (0..nkeys).map(|k| keys.iter().map(|key| key[k].clone()).collect()).collect();
            let params: Vec<Param<'_>> = columns.iter().map(|c| c as Param<'_>).collect();
            let ncols = t.cols.len();
            let rows = self.db.query(&t.select_by_keys, &params)?;
            for row in rows {
                let stored = read_row(&row, ncols)?;
                let key = (0..nkeys).map(|k| value_at(&row, 2 + ncols + k)).collect::<Result<Vec<_>>>()?;
                if let Some(repr) = key_repr(&key) {
                    self.cache.rows.insert((name, None, repr), stored);
                }
            }
            for key in keys {
                let values: Vec<Value> = key.into_iter().map(Value::Text).collect();
                if let Some(repr) = key_repr(&values) {
                    self.cache.covered_roots.insert((name, repr));
                }
            }
        }
        Ok(())
    }

    /// Writes buffered rows and queued index entries, then forgets buffer
    /// positions (the rows stay known, updated by key from now on).
    pub(crate) fn flush(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.cache.pending);
        // Parents first: events, then the rest in schema order. COPY is the
        // fastest way in, and fires the same (statement-level) triggers.
        let mut line = String::new();
        for spec in Record::ALL_SPECS {
            let Some(rows) = pending.get(spec.name) else { continue };
            let t = self.table(spec.name)?;
            if rows.len() <= SMALL_FLUSH {
                for row in rows {
                    let values: Vec<Pg> = row.iter().map(Pg).collect();
                    let params: Vec<Param<'_>> = values.iter().map(|v| v as Param<'_>).collect();
                    self.db.execute(&t.insert_one, &params)?;
                }
                continue;
            }
            let mut writer = self.db.tx.copy_in(&t.copy_in)?;
            for row in rows {
                line.clear();
                for (i, v) in row.iter().enumerate() {
                    if i > 0 {
                        line.push('\t');
                    }
                    push_copy(&mut line, v);
                }
                line.push('\n');
                writer
                    .write_all(line.as_bytes())
                    .map_err(|e| Error::Corrupt(format!("writing {} rows to the server failed: {e}", spec.name)))?;
            }
            writer.finish()?;
        }
        let updates = std::mem::take(&mut self.cache.updates);
        for spec in Record::ALL_SPECS {
            let Some(rows) = updates.get(spec.name) else { continue };
            let t = self.table(spec.name)?;
            if rows.len() <= SMALL_FLUSH {
                for row in rows.values() {
                    // `update` binds the columns, then the id last.
                    let mut values: Vec<Pg> = row.iter().skip(1).map(Pg).collect();
                    values.push(Pg(&row[0]));
                    let params: Vec<Param<'_>> = values.iter().map(|v| v as Param<'_>).collect();
                    self.db.execute(&t.update, &params)?;
                }
                continue;
            }
            self.db.tx.batch_execute(&t.update_temp)?;
            let mut writer = self.db.tx.copy_in(&t.update_copy)?;
            for row in rows.values() {
                line.clear();
                for (i, v) in row.iter().enumerate() {
                    if i > 0 {
                        line.push('\t');
                    }
                    push_copy(&mut line, v);
                }
                line.push('\n');
                writer
                    .write_all(line.as_bytes())
                    .map_err(|e| Error::Corrupt(format!("writing {} updates to the server failed: {e}", spec.name)))?;
            }
            writer.finish()?;
            self.db.tx.batch_execute(&t.update_apply)?;
            self.db.tx.batch_execute(&format!("DELETE FROM ntsb_update_{}", spec.name))?;
        }
        for slot in std::mem::take(&mut self.cache.pending_slots) {
            if let Some(row) = self.cache.rows.get_mut(&slot)
                && (PENDING..0).contains(&row.rowid)
            {
                // Events were given their ids up front; other rows are found by key.
                row.rowid = match slot {
                    (EVENTS, Some(id), _) => id,
                    _ => BY_KEY,
                };
            }
        }
        let index: Vec<i64> = std::mem::take(&mut self.cache.index).into_iter().collect();
        if !index.is_empty() {
            self.db.execute(
                // A change moves the event to the end of the log; the write lock
                // held by this transaction keeps `seq` order equal to commit order.
                "INSERT INTO index_log (event_id) SELECT unnest(?::bigint[]) \
                 ON CONFLICT (event_id) DO UPDATE SET seq = nextval(pg_get_serial_sequence('index_log', 'seq'))",
                &[&index],
            )?;
        }
        Ok(())
    }

    /// Writes the buffer and forgets everything read ahead (after rows moved
    /// between events): the rest of the batch reads the tables directly.
    fn forget(&mut self) -> Result<()> {
        self.flush()?;
        let index = std::mem::take(&mut self.cache.index);
        self.cache = Cache { index, ..Cache::default() };
        Ok(())
    }

    /// Counts and rejects of the batch (call [`Batch::flush`] first).
    pub(crate) fn finish(self) -> BatchOutcome {
        BatchOutcome {
            tables: self.counts.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            rejects: self.rejects,
        }
    }

    fn table(&self, name: &str) -> Result<&'d TableSql> {
        let tables: &'d HashMap<&'static str, TableSql> = self.tables;
        tables.get(name).ok_or_else(|| Error::Corrupt(format!("no table is defined for {name}")))
    }

    /// Upserts one record (or records why it was refused).
    pub(crate) fn write(&mut self, line: u64, parts: RecordParts) -> Result<()> {
        let t = self.table(parts.spec.name)?;
        let values: Vec<Value> = parts
            .values
            .into_iter()
            .map(|v| match v {
                // SQLite stores NaN as NULL: treat it as unknown here too, so both agree.
                Value::Real(r) if !r.is_finite() => Value::Null,
                v => v,
            })
            .collect();
        let result = if t.is_event() {
            self.write_event(t, &parts.key, values, parts.update_only)?
        } else if t.spec.child_of_event {
            match self.child_event(parts.event.as_ref())? {
                Ok(event_id) => Ok(self.upsert(t, Some(event_id), &parts.key, &values)?),
                Err(refusal) => Err(refusal),
            }
        } else {
            Ok(self.upsert(t, None, &parts.key, &values)?)
        };
        let counts = self.counts.entry(t.spec.name).or_default();
        match result {
            Ok(Written::Inserted) => counts.inserted += 1,
            Ok(Written::Updated) => counts.updated += 1,
            Ok(Written::Unchanged) => counts.unchanged += 1,
            Err(refusal) => {
                counts.rejected += 1;
                let reject = Reject {
                    file: self.file.to_string(),
                    line,
                    field: refusal.field.map(str::to_string),
                    reason: refusal.reason,
                    table: Some(t.spec.name.to_string()),
                };
                crate::sql::ledger::insert_reject(self.db, self.load, &reject)?;
                self.rejects.push(reject);
            }
        }
        Ok(())
    }

    /// A fresh event id from the sequence (drawn a thousand at a time).
    fn next_event_id(&mut self) -> Result<i64> {
        if self.cache.ids.is_empty() {
            let rows = self
                .db
                .query("SELECT nextval(pg_get_serial_sequence('events', 'id')) FROM generate_series(1, 1000)", &[])?;
            let mut ids: Vec<i64> = rows.iter().map(|r| r.try_get(0)).collect::<std::result::Result<_, _>>()?;
            ids.sort_unstable_by(|a, b| b.cmp(a));
            self.cache.ids = ids;
        }
        self.cache.ids.pop().ok_or_else(|| Error::Corrupt("the events id sequence returned nothing".into()))
    }

    /// Upserts an event record, resolving (and merging) placeholders first.
    fn write_event(
        &mut self,
        t: &TableSql,
        key: &[Value],
        values: Vec<Value>,
        update_only: bool,
    ) -> Result<std::result::Result<Written, Refusal>> {
        let ev_id = key.first().and_then(key_text);
        let ntsb_no = key.get(1).and_then(key_text);
        let mut touched = false;
        let id = match (&ev_id, &ntsb_no) {
            (None, None) => {
                return Ok(Err(Refusal {
                    field: Some("ev_id"),
                    reason: "the event record has neither ev_id nor ntsb_no".into(),
                }));
            }
            (Some(ev), no) => match self.event_by_ev_id(ev)? {
                Some(id) => {
                    if let Some(no) = no {
                        touched = self.merge_placeholders_into(id, no)?;
                    }
                    Some(id)
                }
                None => {
                    let found = self.find_placeholder(ev, no.as_deref())?;
                    if let Some(p) = found {
                        self.adopt(p, ev)?;
                        touched = true;
                    }
                    found
                }
            },
            (None, Some(no)) => self.event_by_ntsb_no(no)?,
        };
        let label = ev_id.clone().or_else(|| ntsb_no.clone()).unwrap_or_default();
        let mut incoming = Vec::with_capacity(values.len() + 1);
        incoming.push(ntsb_no.clone().map_or(Value::Null, Value::Text));
        incoming.extend(values);
        let Some(id) = id else {
            if update_only {
                return Ok(Err(Refusal {
                    field: Some(if ev_id.is_some() { "ev_id" } else { "ntsb_no" }),
                    reason: format!("refers to unknown event {label}"),
                }));
            }
            let sources = self.initial_sources(t, &incoming);
            let id = self.next_event_id()?;
            let mut row = Vec::with_capacity(t.insert_width);
            row.push(Value::Int(id));
            row.push(ev_id.clone().map_or(Value::Null, Value::Text));
            row.extend(incoming.iter().cloned());
            row.push(Value::Text(sources_json(&sources)?));
            row.push(Value::Int(self.load));
            row.push(Value::Int(self.load));
            let rowid = self.buffer(EVENTS, row);
            let slot = (EVENTS, Some(id), String::new());
            self.cache.pending_slots.push(slot.clone());
            self.cache.rows.insert(slot, StoredRow { rowid, sources: sources_json(&sources)?, values: incoming });
            self.cache.covered_events.insert(id);
            self.cache.new_events.insert(id);
            self.changes.created(id);
            match (ev_id, ntsb_no) {
                (Some(ev), _) => {
                    self.cache.ev_absent.remove(&ev);
                    self.ev_cache.insert(ev, id);
                }
                (None, Some(no)) => {
                    self.placeholders_possible = true;
                    if let Some(map) = self.cache.placeholders.as_mut() {
                        map.entry(no.clone()).or_default().push(id);
                    }
                    self.no_cache.insert(no, id);
                }
                (None, None) => {}
            }
            return Ok(Ok(Written::Inserted));
        };
        let stored = self.row_by_id(t, id)?;
        let slot = (EVENTS, Some(id), String::new());
        // Only rows read ahead are rewritten lazily: on the direct path the next
        // record would flush at once anyway.
        let lazy = self.cache.covered_events.contains(&id);
        let changed = self.apply(t, Some(id), &[Value::Text(label)], stored, &incoming, Some(slot), lazy)?;
        Ok(Ok(if changed || touched { Written::Updated } else { Written::Unchanged }))
    }

    /// Adds a row to the insert buffer; returns its `rowid` marker.
    fn buffer(&mut self, table: &'static str, row: Vec<Value>) -> i64 {
        let rows = self.cache.pending.entry(table).or_default();
        rows.push(row);
        PENDING + i64::try_from(rows.len() - 1).unwrap_or(0)
    }

    /// Whether the read-ahead holds every stored row for this key.
    fn covered(&self, table: &'static str, event_id: Option<i64>, repr: &str) -> bool {
        match event_id {
            Some(e) => self.cache.new_events.contains(&e) || self.cache.covered_children.contains(&(table, e)),
            None => self.cache.covered_roots.contains(&(table, repr.to_string())),
        }
    }

    /// Upserts a child or root row by its key.
    fn upsert(&mut self, t: &TableSql, event_id: Option<i64>, key: &[Value], values: &[Value]) -> Result<Written> {
        let name = t.spec.name;
        let repr = key_repr(key);
        let slot = repr.clone().filter(|r| self.covered(name, event_id, r)).map(|r| (name, event_id, r));
        let stored = match &slot {
            Some(slot) => self.cache.rows.get(slot).cloned(),
            None => {
                self.flush()?;
                let keys: Vec<Pg> = key.iter().map(Pg).collect();
                let mut params: Vec<Param<'_>> = Vec::with_capacity(1 + keys.len());
                if let Some(id) = event_id.as_ref() {
                    params.push(id);
                }
                params.extend(keys.iter().map(|k| k as Param<'_>));
                let ncols = t.cols.len();
                match self.db.query_opt(&t.select_by_key, &params)? {
                    Some(row) => Some(read_row(&row, ncols)?),
                    None => None,
                }
            }
        };
        if let Some(stored) = stored {
            let lazy = slot.is_some();
            let changed = self.apply(t, event_id, key, stored, values, slot, lazy)?;
            return Ok(if changed { Written::Updated } else { Written::Unchanged });
        }
        let sources = self.initial_sources(t, values);
        let json = sources_json(&sources)?;
        let mut row = Vec::with_capacity(t.insert_width);
        if let Some(id) = event_id {
            row.push(Value::Int(id));
        }
        row.extend(key.iter().cloned());
        row.extend(values.iter().cloned());
        row.push(Value::Text(json.clone()));
        let rowid = self.buffer(name, row);
        if let Some(repr) = repr {
            if event_id.is_none() {
                self.cache.covered_roots.insert((name, repr.clone()));
            }
            self.cache.pending_slots.push((name, event_id, repr.clone()));
            self.cache.rows.insert((name, event_id, repr), StoredRow { rowid, sources: json, values: values.to_vec() });
        }
        if let Some(id) = event_id {
            self.changes.row_added(id, name);
            if name == NARRATIVES {
                self.queue_index(id);
            }
        }
        Ok(Written::Inserted)
    }

    /// `field_sources` of a new row: this batch's kind for every known column.
    fn initial_sources(&self, t: &TableSql, values: &[Value]) -> Sources {
        t.cols
            .iter()
            .zip(values)
            .filter(|(_, v)| !v.is_null())
            .map(|(c, _)| ((*c).to_string(), self.source_tag.clone()))
            .collect()
    }

    /// Applies incoming values to a stored row under the precedence rules; writes
    /// the row (and its revisions) only if some field changes. Returns whether it did.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        t: &TableSql,
        event_id: Option<i64>,
        key: &[Value],
        stored: StoredRow,
        incoming: &[Value],
        slot: Option<Slot>,
        lazy: bool,
    ) -> Result<bool> {
        let differs = |i: usize| {
            let v = &incoming[i];
            !v.is_null() && !v.same_as(&stored.values[i])
        };
        if !(0..t.cols.len().min(incoming.len())).any(differs) {
            return Ok(false);
        }
        let mut sources = parse_sources(t.spec.name, &stored.sources)?;
        // Same rules as SQLite: see `sqlite/upsert.rs` `apply`.
        let kind_described_row = sources.values().any(|tag| parse_tag(tag).is_some_and(|(k, _)| k == self.kind));
        let mut values = stored.values.clone();
        let mut row_key: Option<String> = None;
        let mut changed = false;
        for (i, col) in t.cols.iter().enumerate().take(incoming.len()) {
            if !differs(i) {
                continue;
            }
            let allowed = values[i].is_null()
                || match sources.get(*col).and_then(|k| parse_tag(k)) {
                    None => true,
                    Some((recorded, generation)) => {
                        (self.kind.precedence(), self.generation) > (recorded.precedence(), generation)
                    }
                };
            if !allowed {
                continue;
            }
            if !values[i].is_null() || kind_described_row {
                let rk = row_key.get_or_insert_with(|| join_key(key)).clone();
                self.revision(event_id, t.spec.name, &rk, col, values[i].to_text(), incoming[i].to_text())?;
            }
            values[i] = incoming[i].clone();
            sources.insert((*col).to_string(), self.source_tag.clone());
            if let Some(id) = event_id {
                self.changes.field(id, t.spec.name, col);
            }
            changed = true;
        }
        if !changed {
            return Ok(false);
        }
        self.write_row(t, stored.rowid, event_id, key, &values, &sources, lazy)?;
        if let Some(slot) = slot {
            let json = sources_json(&sources)?;
            self.cache.rows.insert(slot, StoredRow { rowid: stored.rowid, sources: json, values });
        }
        if let (Some(id), true) = (event_id, t.spec.name == NARRATIVES) {
            self.queue_index(id);
        }
        Ok(true)
    }

    /// Rewrites a row's compared columns and sources: in the buffer when it is
    /// not inserted yet; with the batch's buffered updates when `lazy`; else by
    /// id, or by key (root tables, and child rows this batch inserted).
    #[allow(clippy::too_many_arguments)]
    fn write_row(
        &mut self,
        t: &TableSql,
        rowid: i64,
        event_id: Option<i64>,
        key: &[Value],
        values: &[Value],
        sources: &Sources,
        lazy: bool,
    ) -> Result<()> {
        let json = sources_json(sources)?;
        if (PENDING..0).contains(&rowid) {
            let at = usize::try_from(rowid - PENDING).unwrap_or(usize::MAX);
            let row = self
                .cache
                .pending
                .get_mut(t.spec.name)
                .and_then(|rows| rows.get_mut(at))
                .ok_or_else(|| Error::Corrupt(format!("lost a buffered {} row", t.spec.name)))?;
            for (i, v) in values.iter().enumerate() {
                row[t.values_at + i] = v.clone();
            }
            row[t.values_at + values.len()] = Value::Text(json);
            return Ok(());
        }
        if lazy && t.has_id && rowid > 0 {
            let mut row = Vec::with_capacity(values.len() + 3);
            row.push(Value::Int(rowid));
            row.extend(values.iter().cloned());
            row.push(Value::Text(json));
            if t.is_event() {
                row.push(Value::Int(self.load));
            }
            self.cache.updates.entry(t.spec.name).or_default().insert(rowid, row);
            return Ok(());
        }
        let vals: Vec<Pg> = values.iter().map(Pg).collect();
        let keys: Vec<Pg> = key.iter().map(Pg).collect();
        let mut params: Vec<Param<'_>> = Vec::with_capacity(vals.len() + keys.len() + 3);
        params.extend(vals.iter().map(|v| v as Param<'_>));
        params.push(&json);
        if t.is_event() {
            params.push(&self.load);
        }
        let sql = if rowid == BY_KEY && t.spec.child_of_event {
            let Some(event_id) = event_id.as_ref() else {
                return Err(Error::Corrupt(format!("a {} row has no event", t.spec.name)));
            };
            params.push(event_id);
            params.extend(keys.iter().map(|k| k as Param<'_>));
            &t.update_by_key
        } else if t.has_id {
            params.push(&rowid);
            &t.update
        } else {
            params.extend(keys.iter().map(|k| k as Param<'_>));
            &t.update
        };
        self.db.execute(sql, &params)?;
        Ok(())
    }

    fn row_by_id(&mut self, t: &TableSql, rowid: i64) -> Result<StoredRow> {
        if t.is_event()
            && self.cache.covered_events.contains(&rowid)
            && let Some(row) = self.cache.rows.get(&(EVENTS, Some(rowid), String::new()))
        {
            return Ok(row.clone());
        }
        self.flush()?;
        let ncols = t.cols.len();
        let row = self.db.query_one(&t.select_by_id, &[&rowid])?;
        read_row(&row, ncols)
    }

    fn revision(
        &mut self,
        event_id: Option<i64>,
        table: &str,
        row_key: &str,
        field: &str,
        old: Option<String>,
        new: Option<String>,
    ) -> Result<()> {
        self.db.execute(
            "INSERT INTO revisions (load_id, event_id, table_name, row_key, field, old_value, new_value, changed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[&self.load, &event_id, &table, &row_key, &field, &old, &new, &self.now],
        )?;
        Ok(())
    }

    fn queue_index(&mut self, event_id: i64) {
        self.cache.index.insert(event_id);
    }

    /// The event a child record belongs to, or why it cannot be found.
    fn child_event(&mut self, event: Option<&EventRef>) -> Result<std::result::Result<i64, Refusal>> {
        match event {
            Some(EventRef::EvId(ev)) if !ev.trim().is_empty() => {
                let ev = ev.trim();
                if let Some(id) = self.event_by_ev_id(ev)? {
                    return Ok(Ok(id));
                }
                if let Some(p) = self.find_placeholder(ev, None)? {
                    self.adopt(p, ev)?;
                    return Ok(Ok(p));
                }
                Ok(Err(Refusal { field: Some("ev_id"), reason: format!("refers to unknown event ev_id {ev}") }))
            }
            Some(EventRef::NtsbNo(no)) if !no.trim().is_empty() => match self.event_by_ntsb_no(no.trim())? {
                Some(id) => Ok(Ok(id)),
                None => Ok(Err(Refusal {
                    field: Some("ntsb_no"),
                    reason: format!("refers to unknown event ntsb_no {}", no.trim()),
                })),
            },
            _ => Ok(Err(Refusal { field: Some("ev_id"), reason: "names no event (empty ev_id and ntsb_no)".into() })),
        }
    }

    fn event_by_ev_id(&mut self, ev: &str) -> Result<Option<i64>> {
        if let Some(id) = self.ev_cache.get(ev) {
            return Ok(Some(*id));
        }
        if self.cache.ev_absent.contains(ev) {
            return Ok(None);
        }
        self.flush()?;
        let id: Option<i64> = match self.db.query_opt("SELECT id FROM events WHERE ev_id = ?1", &[&ev])? {
            Some(row) => Some(row.try_get(0)?),
            None => None,
        };
        if let Some(id) = id {
            self.ev_cache.insert(ev.to_string(), id);
        }
        Ok(id)
    }

    /// Resolves a case number: through the crosswalk to an ev_id, else by the
    /// events' own case numbers (real events before placeholders). Never inserts.
    fn event_by_ntsb_no(&mut self, no: &str) -> Result<Option<i64>> {
        if let Some(id) = self.no_cache.get(no) {
            return Ok(Some(*id));
        }
        self.flush()?;
        let candidates = ntsb_candidates(no);
        let mut found = None;
        'search: for c in &candidates {
            let evs: Vec<String> = self
                .db
                .query("SELECT ev_id FROM event_keys WHERE ntsb_no = ?1", &[c])?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<std::result::Result<_, _>>()?;
            for ev in evs {
                if let Some(id) = self.event_by_ev_id(&ev)? {
                    found = Some(id);
                    break 'search;
                }
            }
        }
        if found.is_none() {
            for c in &candidates {
                found = match self
                    .db
                    .query_opt("SELECT id FROM events WHERE ntsb_no = ?1 ORDER BY ev_id IS NULL, id LIMIT 1", &[c])?
                {
                    Some(row) => Some(row.try_get(0)?),
                    None => None,
                };
                if found.is_some() {
                    break;
                }
            }
        }
        if let Some(id) = found {
            self.no_cache.insert(no.to_string(), id);
        }
        Ok(found)
    }

    /// Whether a placeholder with one of these case numbers may exist (from the
    /// read-ahead; `true` when there is none to ask).
    fn placeholder_may_exist(&self, candidates: &[String]) -> bool {
        match &self.cache.placeholders {
            Some(map) => candidates.iter().any(|c| map.get(c).is_some_and(|ids| !ids.is_empty())),
            None => true,
        }
    }

    /// A placeholder event for `ev`: one whose case number is `no` (or its base
    /// form) or any case number the crosswalk pairs with `ev`.
    fn find_placeholder(&mut self, ev: &str, no: Option<&str>) -> Result<Option<i64>> {
        if !self.placeholders_possible {
            return Ok(None);
        }
        if self.cache.placeholders.as_ref().is_some_and(HashMap::is_empty) {
            return Ok(None);
        }
        self.flush()?;
        let mut candidates: Vec<String> = no.map(ntsb_candidates).unwrap_or_default();
        for row in self.db.query("SELECT ntsb_no FROM event_keys WHERE ev_id = ?1", &[&ev])? {
            let linked: String = row.try_get(0)?;
            for c in ntsb_candidates(&linked) {
                if !candidates.contains(&c) {
                    candidates.push(c);
                }
            }
        }
        if !self.placeholder_may_exist(&candidates) {
            return Ok(None);
        }
        for c in &candidates {
            if let Some(row) = self
                .db
                .query_opt("SELECT id FROM events WHERE ntsb_no = ?1 AND ev_id IS NULL ORDER BY id LIMIT 1", &[c])?
            {
                return Ok(Some(row.try_get(0)?));
            }
        }
        Ok(None)
    }

    /// Gives placeholder `p` the event id `ev` it turned out to have.
    fn adopt(&mut self, p: i64, ev: &str) -> Result<()> {
        self.forget()?;
        self.db.execute("UPDATE events SET ev_id = ?1, updated_load = ?2 WHERE id = ?3", &[&ev, &self.load, &p])?;
        self.revision(Some(p), EVENTS, ev, "ev_id", None, Some(ev.to_string()))?;
        self.changes.field(p, EVENTS, "ev_id");
        self.queue_index(p);
        self.ev_cache.insert(ev.to_string(), p);
        Ok(())
    }

    /// Merges every placeholder with case number `no` into event `real`.
    fn merge_placeholders_into(&mut self, real: i64, no: &str) -> Result<bool> {
        if !self.placeholders_possible || !self.placeholder_may_exist(&ntsb_candidates(no)) {
            return Ok(false);
        }
        self.flush()?;
        let mut placeholders: Vec<i64> = Vec::new();
        for c in ntsb_candidates(no) {
            for row in self.db.query("SELECT id FROM events WHERE ntsb_no = ?1 AND ev_id IS NULL", &[&c])? {
                let id: i64 = row.try_get(0)?;
                if id != real && !placeholders.contains(&id) {
                    placeholders.push(id);
                }
            }
        }
        if !placeholders.is_empty() {
            self.forget()?;
        }
        for p in &placeholders {
            self.merge(*p, real)?;
        }
        Ok(!placeholders.is_empty())
    }

    /// Moves placeholder `p`'s rows to event `real` (skipping rows `real` already
    /// has), fills `real`'s unknown fields from `p`, and deletes `p`.
    fn merge(&mut self, p: i64, real: i64) -> Result<()> {
        self.forget()?;
        let tables: &'d HashMap<&'static str, TableSql> = self.tables;
        for spec in Record::ALL_SPECS.iter().filter(|s| s.child_of_event) {
            if let Some(t) = tables.get(spec.name) {
                self.db.execute(&t.move_children, &[&real, &p])?;
            }
        }
        self.db.execute("UPDATE revisions SET event_id = ?1 WHERE event_id = ?2", &[&real, &p])?;
        let t = self.table(EVENTS)?;
        let from = self.row_by_id(t, p)?;
        let into = self.row_by_id(t, real)?;
        let from_sources = parse_sources(EVENTS, &from.sources)?;
        let mut sources = parse_sources(EVENTS, &into.sources)?;
        let mut values = into.values.clone();
        let label: Option<String> = match self.db.query_opt("SELECT ev_id FROM events WHERE id = ?1", &[&real])? {
            Some(row) => row.try_get(0)?,
            None => None,
        };
        let label = label.unwrap_or_default();
        let mut filled = false;
        for (i, col) in t.cols.iter().enumerate() {
            if values[i].is_null() && !from.values[i].is_null() {
                self.revision(Some(real), EVENTS, &label, col, None, from.values[i].to_text())?;
                self.changes.field(real, EVENTS, col);
                values[i] = from.values[i].clone();
                match from_sources.get(*col) {
                    Some(k) => sources.insert((*col).to_string(), k.clone()),
                    None => sources.remove(*col),
                };
                filled = true;
            }
        }
        if filled {
            self.write_row(t, into.rowid, Some(real), &[], &values, &sources, false)?;
        }
        let (gone_ev, gone_no): (Option<String>, Option<String>) =
            match self.db.query_opt("SELECT ev_id, ntsb_no FROM events WHERE id = ?1", &[&p])? {
                Some(row) => (row.try_get(0)?, row.try_get(1)?),
                None => (None, None),
            };
        self.db.execute("DELETE FROM events WHERE id = ?1", &[&p])?;
        self.changes.row_added(real, "merged");
        self.changes.deleted(p, gone_ev, gone_no);
        self.queue_index(real);
        self.queue_index(p);
        self.no_cache.clear();
        Ok(())
    }
}

/// Key values as revision text: `"1"`, `"1/2"`.
fn join_key(key: &[Value]) -> String {
    key.iter().map(|v| v.to_text().unwrap_or_default()).collect::<Vec<_>>().join("/")
}
