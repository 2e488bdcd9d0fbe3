//! The generic upsert behind [`crate::Store::write_batch`].
//!
//! One code path serves every table: SQL text is derived once from the static
//! [`TableSpec`]s (never from input), and each record costs one indexed SELECT of
//! its stored row plus, only when something changes, one INSERT or UPDATE. A record
//! whose values are all already stored writes nothing at all, so re-loading a whole
//! corpus is a read-only pass.

use std::collections::{BTreeMap, HashMap};

use ntsb_model::SourceKind;
use ntsb_model::normalize::base_ntsb_no;
use ntsb_model::records::{EventRef, Record, Reject, SourcedRecord, TableSpec};
use ntsb_model::value::Value;
use rusqlite::types::{ToSqlOutput, Type, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

use crate::changes::{ChangeSet, INSERT_CHANGE_ONE};
use crate::{BatchOutcome, Error, Result, TableCounts};

/// Name of the event table, the parent of every child table.
pub(crate) const EVENTS: &str = "events";
/// Name of the narrative table, whose changes feed the search index.
pub(crate) const NARRATIVES: &str = "narratives";

/// Binds a [`Value`] as an SQL parameter without copying text.
pub(crate) struct Sql<'a>(pub &'a Value);

impl ToSql for Sql<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// Reads column `idx` of a row as a [`Value`] (SQLite INTEGER, REAL, TEXT, NULL).
pub(crate) fn value_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Value> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(_) => return Err(rusqlite::Error::InvalidColumnType(idx, "blob".into(), Type::Blob)),
    })
}

/// SQL statements of one table, derived from its spec.
pub(crate) struct TableSql {
    /// The table.
    pub spec: &'static TableSpec,
    /// Columns compared and updated: the data columns (and `ntsb_no` for events,
    /// whose key columns are otherwise fixed by resolution).
    pub cols: Vec<&'static str>,
    /// `SELECT rowid, field_sources, cols…` by the row's key (by `ev_id` for events).
    select_by_key: String,
    /// Same columns, by rowid.
    select_by_id: String,
    /// Inserts a row.
    insert: String,
    /// Rewrites every compared column and `field_sources` by rowid.
    update: String,
    /// For child tables: moves rows from one event to another, skipping duplicates
    /// (empty for other tables).
    move_children: String,
}

impl TableSql {
    /// Derives the statements of `spec`.
    pub(crate) fn new(spec: &'static TableSpec) -> TableSql {
        let is_event = spec.name == EVENTS;
        let name = spec.name;
        let cols: Vec<&'static str> = if is_event {
            std::iter::once("ntsb_no").chain(spec.columns.iter().copied()).collect()
        } else {
            spec.columns.to_vec()
        };
        let head = format!("SELECT rowid, field_sources, {} FROM {name}", cols.join(", "));
        let select_by_key = if is_event {
            format!("{head} WHERE ev_id = ?")
        } else {
            let mut conds: Vec<String> = Vec::new();
            if spec.child_of_event {
                conds.push("event_id = ?".into());
            }
            conds.extend(spec.key_columns.iter().map(|k| format!("{k} = ?")));
            format!("{head} WHERE {}", conds.join(" AND "))
        };
        let select_by_id = format!("{head} WHERE rowid = ?");
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
        let marks = vec!["?"; insert_cols.len()].join(", ");
        let insert = format!("INSERT INTO {name} ({}) VALUES ({marks})", insert_cols.join(", "));
        let mut sets: Vec<String> = cols.iter().map(|c| format!("{c} = ?")).collect();
        sets.push("field_sources = ?".into());
        if is_event {
            sets.push("updated_load = ?".into());
        }
        let update = format!("UPDATE {name} SET {} WHERE rowid = ?", sets.join(", "));
        let move_children = if spec.child_of_event {
            format!("UPDATE OR IGNORE {name} SET event_id = ?1 WHERE event_id = ?2")
        } else {
            String::new()
        };
        TableSql { spec, cols, select_by_key, select_by_id, insert, update, move_children }
    }

    /// Every statement, so a test can check they all prepare against the schema.
    #[cfg(test)]
    pub(crate) fn all_sql(&self) -> Vec<&str> {
        [&self.select_by_key, &self.select_by_id, &self.insert, &self.update, &self.move_children]
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
struct StoredRow {
    rowid: i64,
    sources: String,
    values: Vec<Value>,
}

fn read_row(row: &Row<'_>, ncols: usize) -> rusqlite::Result<StoredRow> {
    let mut values = Vec::with_capacity(ncols);
    for i in 0..ncols {
        values.push(value_at(row, i + 2)?);
    }
    Ok(StoredRow { rowid: row.get(0)?, sources: row.get(1)?, values })
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

/// State of one `write_batch` call, inside its transaction.
pub(crate) struct Batch<'a> {
    tx: &'a Connection,
    tables: &'a HashMap<&'static str, TableSql>,
    load: i64,
    kind: SourceKind,
    file: &'a str,
    now: String,
    counts: BTreeMap<&'static str, TableCounts>,
    rejects: Vec<Reject>,
    /// ev_id → events.id, positive answers only (rows with an ev_id are never deleted).
    ev_cache: HashMap<String, i64>,
    /// ntsb_no → events.id; cleared whenever a placeholder is merged away.
    no_cache: HashMap<String, i64>,
    /// Whether any placeholder event (ev_id NULL) may exist; when not, the
    /// placeholder look-ups are skipped.
    placeholders_possible: bool,
    /// Generation of this batch's file: the ledger id of the first load of the
    /// same content. Between two files of one kind, the later generation wins,
    /// so re-loading older files never undoes a newer one.
    generation: i64,
    /// `kind:generation`, as recorded in `field_sources`.
    source_tag: String,
    /// What the batch did to each event, for the change log.
    changes: ChangeSet,
}

/// A `field_sources` entry: `kind:generation` (or plain `kind` from before
/// generations were recorded, read as generation 0).
fn parse_tag(tag: &str) -> Option<(SourceKind, i64)> {
    let (kind, generation) = match tag.split_once(':') {
        Some((k, g)) => (k, g.parse().ok()?),
        None => (tag, 0),
    };
    Some((SourceKind::parse(kind)?, generation))
}

/// The generation of a load: the first ledger entry with the same content
/// (same checksum, or same label for sources without a file).
fn generation_of(tx: &Connection, load: i64) -> Result<i64> {
    let found: Option<(String, String)> = tx
        .prepare_cached("SELECT checksum, path FROM loads WHERE id = ?1")?
        .query_row([load], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((checksum, path)) = found else { return Ok(load) };
    let first: Option<i64> = if checksum.is_empty() {
        tx.prepare_cached("SELECT min(id) FROM loads WHERE checksum = '' AND path = ?1")?
            .query_row([&path], |r| r.get(0))?
    } else {
        tx.prepare_cached("SELECT min(id) FROM loads WHERE checksum = ?1")?.query_row([&checksum], |r| r.get(0))?
    };
    Ok(first.unwrap_or(load))
}

impl<'a> Batch<'a> {
    /// Starts a batch inside an open transaction.
    pub(crate) fn new(
        tx: &'a Connection,
        tables: &'a HashMap<&'static str, TableSql>,
        load: i64,
        kind: SourceKind,
        file: &'a str,
    ) -> Result<Batch<'a>> {
        let placeholders_possible: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM events WHERE ev_id IS NULL)")?
            .query_row([], |r| r.get(0))?;
        let generation = generation_of(tx, load)?;
        Ok(Batch {
            generation,
            source_tag: format!("{}:{generation}", kind.as_str()),
            tx,
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
            changes: ChangeSet::default(),
        })
    }

    /// Appends one change-log row per event the batch touched (see
    /// `crate::changes`); call once, before committing.
    pub(crate) fn record_changes(&mut self) -> Result<()> {
        if self.changes.is_empty() {
            return Ok(());
        }
        let mut stmt = self.tx.prepare_cached(INSERT_CHANGE_ONE)?;
        for row in self.changes.take_rows() {
            stmt.execute(params![row.event_id, row.kind, row.fields, row.ev_id, row.ntsb_no, self.load, self.now])?;
        }
        Ok(())
    }

    /// Counts and rejects of the batch.
    pub(crate) fn finish(self) -> BatchOutcome {
        BatchOutcome {
            tables: self.counts.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            rejects: self.rejects,
        }
    }

    fn table(&self, name: &str) -> Result<&'a TableSql> {
        let tables: &'a HashMap<&'static str, TableSql> = self.tables;
        tables.get(name).ok_or_else(|| Error::Corrupt(format!("no table is defined for {name}")))
    }

    /// Upserts one record (or records why it was refused).
    pub(crate) fn write(&mut self, rec: SourcedRecord) -> Result<()> {
        let line = rec.line;
        let parts = rec.record.into_parts();
        let t = self.table(parts.spec.name)?;
        let values: Vec<Value> = parts
            .values
            .into_iter()
            .map(|v| match v {
                // SQLite stores NaN as NULL: treat it as unknown so it never looks changed.
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
                crate::sql::ledger::insert_reject(&mut crate::sql::conn::Lite(self.tx), self.load, &reject)?;
                self.rejects.push(reject);
            }
        }
        Ok(())
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
            let ev_value = ev_id.clone().map_or(Value::Null, Value::Text);
            let sources = sources_json(&self.initial_sources(t, &incoming))?;
            let ev = Sql(&ev_value);
            let vals: Vec<Sql> = incoming.iter().map(Sql).collect();
            let mut params: Vec<&dyn ToSql> = Vec::with_capacity(vals.len() + 4);
            params.push(&ev);
            params.extend(vals.iter().map(|v| v as &dyn ToSql));
            params.push(&sources);
            params.push(&self.load);
            params.push(&self.load);
            self.tx.prepare_cached(&t.insert)?.execute(params.as_slice())?;
            let id = self.tx.last_insert_rowid();
            self.changes.created(id);
            match (ev_id, ntsb_no) {
                (Some(ev), _) => {
                    self.ev_cache.insert(ev, id);
                }
                (None, Some(no)) => {
                    self.placeholders_possible = true;
                    self.no_cache.insert(no, id);
                }
                (None, None) => {}
            }
            return Ok(Ok(Written::Inserted));
        };
        let stored = self.row_by_id(t, id)?;
        let changed = self.apply(t, Some(id), &[Value::Text(label)], stored, &incoming)?;
        Ok(Ok(if changed || touched { Written::Updated } else { Written::Unchanged }))
    }

    /// Upserts a child or root row by its key.
    fn upsert(&mut self, t: &TableSql, event_id: Option<i64>, key: &[Value], values: &[Value]) -> Result<Written> {
        let keys: Vec<Sql> = key.iter().map(Sql).collect();
        let mut params: Vec<&dyn ToSql> = Vec::with_capacity(1 + keys.len() + values.len() + 1);
        if let Some(id) = event_id.as_ref() {
            params.push(id);
        }
        params.extend(keys.iter().map(|k| k as &dyn ToSql));
        let ncols = t.cols.len();
        let stored = self
            .tx
            .prepare_cached(&t.select_by_key)?
            .query_row(params.as_slice(), |r| read_row(r, ncols))
            .optional()?;
        if let Some(stored) = stored {
            let changed = self.apply(t, event_id, key, stored, values)?;
            return Ok(if changed { Written::Updated } else { Written::Unchanged });
        }
        let sources = sources_json(&self.initial_sources(t, values))?;
        let vals: Vec<Sql> = values.iter().map(Sql).collect();
        params.extend(vals.iter().map(|v| v as &dyn ToSql));
        params.push(&sources);
        self.tx.prepare_cached(&t.insert)?.execute(params.as_slice())?;
        if let Some(id) = event_id {
            self.changes.row_added(id, t.spec.name);
            if t.spec.name == NARRATIVES {
                self.queue_index(id)?;
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
    fn apply(
        &mut self,
        t: &TableSql,
        event_id: Option<i64>,
        key: &[Value],
        stored: StoredRow,
        incoming: &[Value],
    ) -> Result<bool> {
        let differs = |i: usize| {
            let v = &incoming[i];
            !v.is_null() && !v.same_as(&stored.values[i])
        };
        if !(0..t.cols.len().min(incoming.len())).any(differs) {
            return Ok(false);
        }
        let mut sources = parse_sources(t.spec.name, &stored.sources)?;
        // A revision is a change to what a source published: a value replaced,
        // or a field filled by a kind of source that described this row before
        // (a preliminary record gaining its probable cause). A field filled by a
        // kind of source seen here for the first time is a merge, not a revision.
        let kind_described_row = sources.values().any(|tag| parse_tag(tag).is_some_and(|(k, _)| k == self.kind));
        let mut values = stored.values.clone();
        let mut row_key: Option<String> = None;
        let mut changed = false;
        for (i, col) in t.cols.iter().enumerate().take(incoming.len()) {
            if !differs(i) {
                continue;
            }
            // A more trusted kind wins; between equally trusted sources the
            // later generation (a newer file) wins; within one file the first
            // value stands. Re-loading anything in any order therefore changes
            // nothing.
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
                let rk = row_key.get_or_insert_with(|| join_key(key));
                self.revision(event_id, t.spec.name, rk, col, values[i].to_text(), incoming[i].to_text())?;
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
        self.write_row(t, stored.rowid, &values, &sources)?;
        if let (Some(id), true) = (event_id, t.spec.name == NARRATIVES) {
            self.queue_index(id)?;
        }
        Ok(true)
    }

    /// Rewrites a row's compared columns and sources.
    fn write_row(&self, t: &TableSql, rowid: i64, values: &[Value], sources: &Sources) -> Result<()> {
        let json = sources_json(sources)?;
        let vals: Vec<Sql> = values.iter().map(Sql).collect();
        let mut params: Vec<&dyn ToSql> = Vec::with_capacity(vals.len() + 3);
        params.extend(vals.iter().map(|v| v as &dyn ToSql));
        params.push(&json);
        if t.is_event() {
            params.push(&self.load);
        }
        params.push(&rowid);
        self.tx.prepare_cached(&t.update)?.execute(params.as_slice())?;
        Ok(())
    }

    fn row_by_id(&self, t: &TableSql, rowid: i64) -> Result<StoredRow> {
        let ncols = t.cols.len();
        Ok(self.tx.prepare_cached(&t.select_by_id)?.query_row([rowid], |r| read_row(r, ncols))?)
    }

    fn revision(
        &self,
        event_id: Option<i64>,
        table: &str,
        row_key: &str,
        field: &str,
        old: Option<String>,
        new: Option<String>,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO revisions (load_id, event_id, table_name, row_key, field, old_value, new_value, changed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![self.load, event_id, table, row_key, field, old, new, self.now])?;
        Ok(())
    }

    fn queue_index(&self, event_id: i64) -> Result<()> {
        // A change moves the event to the end of the log (writers are serialised,
        // so `max(seq) + 1` is unique and in commit order).
        self.tx
            .prepare_cached(
                "INSERT INTO index_log (seq, event_id) VALUES ((SELECT ifnull(max(seq), 0) + 1 FROM index_log), ?1) \
                 ON CONFLICT (event_id) DO UPDATE SET seq = excluded.seq",
            )?
            .execute([event_id])?;
        Ok(())
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
        let id: Option<i64> = self
            .tx
            .prepare_cached("SELECT id FROM events WHERE ev_id = ?1")?
            .query_row([ev], |r| r.get(0))
            .optional()?;
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
        let candidates = ntsb_candidates(no);
        let mut found = None;
        'search: for c in &candidates {
            let evs: Vec<String> = {
                let mut stmt = self.tx.prepare_cached("SELECT ev_id FROM event_keys WHERE ntsb_no = ?1")?;
                let rows = stmt.query_map([c], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for ev in evs {
                if let Some(id) = self.event_by_ev_id(&ev)? {
                    found = Some(id);
                    break 'search;
                }
            }
        }
        if found.is_none() {
            for c in &candidates {
                found = self
                    .tx
                    .prepare_cached("SELECT id FROM events WHERE ntsb_no = ?1 ORDER BY ev_id IS NULL, id LIMIT 1")?
                    .query_row([c], |r| r.get(0))
                    .optional()?;
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

    /// A placeholder event for `ev`: one whose case number is `no` (or its base
    /// form) or any case number the crosswalk pairs with `ev`.
    fn find_placeholder(&mut self, ev: &str, no: Option<&str>) -> Result<Option<i64>> {
        if !self.placeholders_possible {
            return Ok(None);
        }
        let mut candidates: Vec<String> = no.map(ntsb_candidates).unwrap_or_default();
        {
            let mut stmt = self.tx.prepare_cached("SELECT ntsb_no FROM event_keys WHERE ev_id = ?1")?;
            let rows = stmt.query_map([ev], |r| r.get::<_, String>(0))?;
            for linked in rows {
                for c in ntsb_candidates(&linked?) {
                    if !candidates.contains(&c) {
                        candidates.push(c);
                    }
                }
            }
        }
        for c in &candidates {
            let p: Option<i64> = self
                .tx
                .prepare_cached("SELECT id FROM events WHERE ntsb_no = ?1 AND ev_id IS NULL ORDER BY id LIMIT 1")?
                .query_row([c], |r| r.get(0))
                .optional()?;
            if p.is_some() {
                return Ok(p);
            }
        }
        Ok(None)
    }

    /// Gives placeholder `p` the event id `ev` it turned out to have.
    fn adopt(&mut self, p: i64, ev: &str) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE events SET ev_id = ?1, updated_load = ?2 WHERE id = ?3")?
            .execute(params![ev, self.load, p])?;
        self.revision(Some(p), EVENTS, ev, "ev_id", None, Some(ev.to_string()))?;
        self.changes.field(p, EVENTS, "ev_id");
        self.queue_index(p)?;
        self.ev_cache.insert(ev.to_string(), p);
        Ok(())
    }

    /// Merges every placeholder with case number `no` into event `real`.
    fn merge_placeholders_into(&mut self, real: i64, no: &str) -> Result<bool> {
        if !self.placeholders_possible {
            return Ok(false);
        }
        let mut placeholders: Vec<i64> = Vec::new();
        for c in ntsb_candidates(no) {
            let mut stmt = self.tx.prepare_cached("SELECT id FROM events WHERE ntsb_no = ?1 AND ev_id IS NULL")?;
            let rows = stmt.query_map([c], |r| r.get::<_, i64>(0))?;
            for id in rows {
                let id = id?;
                if id != real && !placeholders.contains(&id) {
                    placeholders.push(id);
                }
            }
        }
        for p in &placeholders {
            self.merge(*p, real)?;
        }
        Ok(!placeholders.is_empty())
    }

    /// Moves placeholder `p`'s rows to event `real` (skipping rows `real` already
    /// has), fills `real`'s unknown fields from `p`, and deletes `p`.
    fn merge(&mut self, p: i64, real: i64) -> Result<()> {
        let tables: &'a HashMap<&'static str, TableSql> = self.tables;
        for spec in Record::ALL_SPECS.iter().filter(|s| s.child_of_event) {
            if let Some(t) = tables.get(spec.name) {
                self.tx.prepare_cached(&t.move_children)?.execute([real, p])?;
            }
        }
        self.tx.prepare_cached("UPDATE revisions SET event_id = ?1 WHERE event_id = ?2")?.execute([real, p])?;
        let t = self.table(EVENTS)?;
        let from = self.row_by_id(t, p)?;
        let into = self.row_by_id(t, real)?;
        let from_sources = parse_sources(EVENTS, &from.sources)?;
        let mut sources = parse_sources(EVENTS, &into.sources)?;
        let mut values = into.values.clone();
        let label: Option<String> = self
            .tx
            .prepare_cached("SELECT ev_id FROM events WHERE id = ?1")?
            .query_row([real], |r| r.get(0))
            .optional()?
            .flatten();
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
            self.write_row(t, into.rowid, &values, &sources)?;
        }
        let gone: Option<(Option<String>, Option<String>)> = self
            .tx
            .prepare_cached("SELECT ev_id, ntsb_no FROM events WHERE id = ?1")?
            .query_row([p], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (gone_ev, gone_no) = gone.unwrap_or_default();
        self.tx.prepare_cached("DELETE FROM events WHERE id = ?1")?.execute([p])?;
        self.changes.row_added(real, "merged");
        self.changes.deleted(p, gone_ev, gone_no);
        self.queue_index(real)?;
        self.queue_index(p)?;
        self.no_cache.clear();
        Ok(())
    }
}

/// Key values as revision text: `"1"`, `"1/2"`.
fn join_key(key: &[Value]) -> String {
    key.iter().map(|v| v.to_text().unwrap_or_default()).collect::<Vec<_>>().join("/")
}
