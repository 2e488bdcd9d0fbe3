//! The parts of [`crate::Store`] written once: the load ledger (loads, their
//! per-table counts and rejects), store statistics, revision history, the index
//! change log and the store's metadata. Each backend's `Store` impl calls these
//! inside its own read or write transaction.

use ntsb_model::SourceKind;
use ntsb_model::records::{Record, Reject};

use super::{Conn, args, limit_arg, to_i64, to_u64};
use crate::query::push_text;
use crate::{
    Error, IndexChange, IndexDoc, IndexText, LoadEntry, LoadId, LoadSource, LoadSummary, Result, Revision, StoreStats,
    TableCounts,
};

/// Opens a ledger entry.
pub(crate) fn begin_load(db: &mut dyn Conn, source: &LoadSource) -> Result<LoadId> {
    let id = db.scalar(
        "INSERT INTO loads (path, format, checksum, bytes, started_at, status) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'running') RETURNING id",
        &args![&source.path, &source.format, &source.checksum, to_i64(source.bytes), chrono::Utc::now().to_rfc3339()],
    )?;
    Ok(LoadId(id))
}

/// Records one reject against a load.
pub(crate) fn insert_reject(db: &mut dyn Conn, load: i64, r: &Reject) -> Result<()> {
    db.execute(
        "INSERT INTO rejects (load_id, file, line, field, reason, table_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &args![load, &r.file, to_i64(r.line), &r.field, &r.reason, &r.table],
    )?;
    Ok(())
}

/// Closes a ledger entry with its totals and per-table counts.
pub(crate) fn finish_load(db: &mut dyn Conn, load: LoadId, summary: &LoadSummary) -> Result<()> {
    let total = summary.total();
    let changed = db.execute(
        "UPDATE loads SET finished_at = ?1, status = ?2, inserted = ?3, updated = ?4, unchanged = ?5, \
         rejected = ?6, duration_ms = ?7 WHERE id = ?8",
        &args![
            chrono::Utc::now().to_rfc3339(),
            &summary.status,
            to_i64(total.inserted),
            to_i64(total.updated),
            to_i64(total.unchanged),
            to_i64(total.rejected),
            to_i64(summary.duration_ms),
            load.0
        ],
    )?;
    if changed == 0 {
        return Err(Error::NotFound(format!("load {} is not in the ledger", load.0)));
    }
    db.execute("DELETE FROM load_counts WHERE load_id = ?1", &args![load.0])?;
    for (table, c) in &summary.tables {
        db.execute(
            "INSERT INTO load_counts (load_id, table_name, inserted, updated, unchanged, rejected) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &args![load.0, table, to_i64(c.inserted), to_i64(c.updated), to_i64(c.unchanged), to_i64(c.rejected)],
        )?;
    }
    Ok(())
}

/// Ledger entries, newest first.
pub(crate) fn loads(db: &mut dyn Conn, limit: usize) -> Result<Vec<LoadEntry>> {
    db.query(
        "SELECT id, path, format, checksum, bytes, started_at, finished_at, status, inserted, updated, unchanged, \
         rejected, duration_ms FROM loads ORDER BY id DESC LIMIT ?1",
        &[limit_arg(limit)],
        |r| {
            Ok(LoadEntry {
                id: LoadId(r.get(0)?),
                source: LoadSource {
                    path: r.get(1)?,
                    format: r.get(2)?,
                    checksum: r.get(3)?,
                    bytes: to_u64(r.get(4)?),
                },
                started_at: r.get(5)?,
                finished_at: r.get(6)?,
                status: r.get(7)?,
                counts: TableCounts {
                    inserted: to_u64(r.get(8)?),
                    updated: to_u64(r.get(9)?),
                    unchanged: to_u64(r.get(10)?),
                    rejected: to_u64(r.get(11)?),
                },
                duration_ms: r.get::<Option<i64>>(12)?.map(to_u64),
            })
        },
    )
}

/// Rejects of one load, in file order.
pub(crate) fn rejects(db: &mut dyn Conn, load: LoadId) -> Result<Vec<Reject>> {
    db.query(
        "SELECT file, line, field, reason, table_name FROM rejects WHERE load_id = ?1 ORDER BY file, line, id",
        &args![load.0],
        |r| {
            Ok(Reject {
                file: r.get(0)?,
                line: to_u64(r.get(1)?),
                field: r.get(2)?,
                reason: r.get(3)?,
                table: r.get(4)?,
            })
        },
    )
}

/// Row counts per table and the event date range.
pub(crate) fn stats(db: &mut dyn Conn) -> Result<StoreStats> {
    let mut tables = Vec::with_capacity(Record::ALL_SPECS.len());
    for spec in Record::ALL_SPECS {
        // Table names come only from the static specs.
        let n: i64 = db.scalar(&format!("SELECT count(*) FROM {}", spec.name), &[])?;
        tables.push((spec.name.to_string(), to_u64(n)));
    }
    let (first_event, last_event) =
        db.query_one("SELECT min(event_date), max(event_date) FROM events WHERE event_date <> ''", &[], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let with_narrative: i64 =
        db.scalar("SELECT count(DISTINCT event_id) FROM narratives WHERE narrative <> ''", &[])?;
    let with_cause: i64 =
        db.scalar("SELECT count(DISTINCT event_id) FROM narratives WHERE probable_cause <> ''", &[])?;
    Ok(StoreStats {
        tables,
        first_event,
        last_event,
        events_with_narrative: to_u64(with_narrative),
        events_with_probable_cause: to_u64(with_cause),
    })
}

/// Field changes of one event (by `ev_id`, or `ntsb_no` for events known only
/// by case number), oldest first.
pub(crate) fn revisions(db: &mut dyn Conn, event: &str) -> Result<Vec<Revision>> {
    db.query(
        "SELECT r.table_name, r.row_key, r.field, r.old_value, r.new_value, r.load_id, coalesce(l.path, ''), \
                r.changed_at
         FROM revisions r LEFT JOIN loads l ON l.id = r.load_id
         WHERE r.event_id IN (
             SELECT id FROM events WHERE ev_id = ?1
             UNION
             SELECT id FROM events WHERE ntsb_no = ?1 AND NOT EXISTS (SELECT 1 FROM events WHERE ev_id = ?1))
         ORDER BY r.id",
        &args![event.trim()],
        |r| {
            Ok(Revision {
                table: r.get(0)?,
                row_key: r.get(1)?,
                field: r.get(2)?,
                old_value: r.get(3)?,
                new_value: r.get(4)?,
                load: LoadId(r.get(5)?),
                source: r.get(6)?,
                changed_at: r.get(7)?,
            })
        },
    )
}

/// Entries of the index change log after `after`, with each event's text now.
pub(crate) fn index_changes(db: &mut dyn Conn, after: u64, limit: usize) -> Result<Vec<IndexChange>> {
    let entries: Vec<(i64, i64)> = db.query(
        "SELECT seq, event_id FROM index_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        &[to_i64(after).into(), limit_arg(limit)],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    entries
        .into_iter()
        .map(|(seq, event_id)| Ok(IndexChange { seq: to_u64(seq), doc: index_doc(db, event_id)? }))
        .collect()
}

/// Position of the latest entry of the index change log (0 when empty).
pub(crate) fn index_log_head(db: &mut dyn Conn) -> Result<u64> {
    Ok(db.scalar::<Option<i64>>("SELECT max(seq) FROM index_log", &[])?.map_or(0, to_u64))
}

/// The searchable text of one event: narratives and preliminary reports joined by
/// blank lines, probable causes by newlines (exact repeats dropped). `text` is
/// `None` when the event is gone or has no text.
fn index_doc(db: &mut dyn Conn, event_id: i64) -> Result<IndexDoc> {
    let head = db.query_opt("SELECT ev_id, ntsb_no, event_date FROM events WHERE id = ?1", &args![event_id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    let Some((ev_id, ntsb_no, event_date)) = head else {
        return Ok(IndexDoc { event_id, ev_id: None, ntsb_no: None, event_date: None, text: None });
    };
    let mut narratives: Vec<String> = Vec::new();
    let mut causes: Vec<String> = Vec::new();
    db.each_row(
        "SELECT narrative, preliminary, probable_cause FROM narratives WHERE event_id = ?1 ORDER BY aircraft_key",
        &args![event_id],
        &mut |r| {
            push_text(&mut narratives, r.get(0)?);
            push_text(&mut narratives, r.get(1)?);
            push_text(&mut causes, r.get(2)?);
            Ok(true)
        },
    )?;
    let text = (!narratives.is_empty() || !causes.is_empty())
        .then(|| IndexText { narrative: narratives.join("\n\n"), probable_cause: causes.join("\n") });
    Ok(IndexDoc { event_id, ev_id, ntsb_no, event_date, text })
}

/// A `store_meta` value.
pub(crate) fn meta(db: &mut dyn Conn, key: &str) -> Result<Option<String>> {
    Ok(db.query_opt("SELECT value FROM store_meta WHERE key = ?1", &args![key], |r| r.get(0))?.flatten())
}

/// Refuses to mix demo and real data; records the content kind on the first write.
pub(crate) fn check_content(db: &mut dyn Conn, kind: SourceKind, will_write: bool) -> Result<()> {
    let want = if kind == SourceKind::Demo { "demo" } else { "real" };
    match meta(db, "content")?.as_deref() {
        Some(s) if s == want => Ok(()),
        Some("demo") => Err(Error::MixedContent(format!(
            "this database holds the synthetic demo sample, so real NTSB data ({}) cannot be loaded into it; \
             use a new database for real data",
            kind.as_str()
        ))),
        Some(_) => Err(Error::MixedContent(
            "this database holds real NTSB data, so the synthetic demo sample cannot be loaded into it; \
             use a separate database for the demo"
                .into(),
        )),
        None => {
            if will_write {
                db.execute("INSERT INTO store_meta (key, value) VALUES ('content', ?1)", &args![want])?;
            }
            Ok(())
        }
    }
}
