//! The SQLite event detail: read on the calling thread from the local file
//! (a primary-key read of a ready document, or the detail computed from its
//! rows in one read transaction), and the documents built ahead by loads.
//! Backend-specific on purpose: PostgreSQL builds documents set-based and
//! serves them without a thread (`postgres/detail.rs`). Every other query is
//! written once in `sql/reads.rs`.

use ntsb_model::query::{EngineDetail, EventDetail};
use rusqlite::{Connection, OptionalExtension};

use super::SqliteStore;
use crate::Result;
use crate::query::{detail_json, push_text};
use crate::sql::conn::Lite;
use crate::sql::reads::{Documents, event_id_of, summary_by_id};
use crate::sql::{Row, details};

fn collect<T>(conn: &Connection, sql: &str, id: i64, mut f: impl FnMut(&dyn Row) -> Result<T>) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([id])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(f(r)?);
    }
    Ok(out)
}

/// Builds the documents of up to `limit` events that have none, in the caller's
/// write transaction (so no write can change an event between reading it and
/// storing its document); returns how many.
pub(super) fn build_documents(tx: &Connection, limit: usize) -> Result<usize> {
    let ids: Vec<i64> = {
        let mut stmt = tx.prepare_cached(
            "SELECT e.id FROM event_facts e WHERE NOT EXISTS (SELECT 1 FROM event_documents d WHERE d.event_id = e.id) \
             ORDER BY e.id LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    // Every event with facts has a detail; one without (none expected) is skipped.
    let mut insert = tx.prepare_cached("INSERT INTO event_documents (event_id, body) VALUES (?1, ?2)")?;
    let mut built = 0;
    for &id in &ids {
        if let Some(d) = detail(tx, id)? {
            insert.execute(rusqlite::params![id, detail_json(&d)?])?;
            built += 1;
        }
    }
    Ok(built)
}

fn detail(conn: &Connection, id: i64) -> Result<Option<EventDetail>> {
    let Some(summary) = summary_by_id(&mut Lite(conn), id)? else {
        return Ok(None);
    };
    let mut d = conn
        .prepare_cached(
            "SELECT airport_code, airport_name, event_time, light_condition, report_status, record_status, \
             publication_date FROM events WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(EventDetail {
                airport_code: r.get(0)?,
                airport_name: r.get(1)?,
                event_time: r.get(2)?,
                light_condition: r.get(3)?,
                report_status: r.get(4)?,
                record_status: r.get(5)?,
                publication_date: r.get(6)?,
                ..Default::default()
            })
        })?;
    d.summary = summary;
    let mut engines: Vec<(i64, EngineDetail)> = collect(
        conn,
        "SELECT aircraft_key, eng_no, eng_type, eng_mfgr, eng_model, power_units, hp_or_lbs, carb_fuel_injection, \
         propeller_type, propeller_make, propeller_model, eng_time_total, eng_time_last_insp, eng_time_overhaul \
         FROM engines WHERE event_id = ?1 ORDER BY aircraft_key, eng_no",
        id,
        |r| Ok((r.get(0)?, details::engine(r, 1)?)),
    )?;
    d.aircraft = collect(
        conn,
        "SELECT aircraft_key, ntsb_no, registration, serial_no, make, make_raw, model, category, category_raw, \
         amateur_built, num_engines, engine_type, far_part, far_part_raw, schedule, purpose, operator, damage, \
         damage_raw, phase, phase_raw FROM aircraft WHERE event_id = ?1 ORDER BY aircraft_key",
        id,
        |r| details::aircraft(r, 0),
    )?;
    for a in &mut d.aircraft {
        let (mine, rest): (Vec<_>, Vec<_>) = engines.into_iter().partition(|(k, _)| *k == a.aircraft_key);
        a.engines = mine.into_iter().map(|(_, e)| e).collect();
        engines = rest;
    }
    d.crew = collect(
        conn,
        "SELECT aircraft_key, crew_no, crew_category, crew_age, crew_sex, med_certf, crew_inj_level, seatbelts_used, \
         shldr_harn_used FROM flight_crew WHERE event_id = ?1 ORDER BY aircraft_key, crew_no",
        id,
        |r| details::crew(r, 0),
    )?;
    d.injury_rows = collect(
        conn,
        "SELECT aircraft_key, inj_person_category, injury_level, inj_person_count FROM injury WHERE event_id = ?1 \
         ORDER BY aircraft_key, inj_person_category, injury_level",
        id,
        |r| details::injury(r, 0),
    )?;
    d.findings = collect(
        conn,
        "SELECT aircraft_key, finding_no, finding_code, finding_description, cause_factor FROM findings \
         WHERE event_id = ?1 ORDER BY aircraft_key, finding_no",
        id,
        |r| details::finding(r, 0),
    )?;
    d.occurrences = collect(
        conn,
        "SELECT aircraft_key, code_system, occurrence_no, occurrence_code, occurrence_meaning, phase, phase_meaning, \
         defining_event FROM occurrences WHERE event_id = ?1 ORDER BY aircraft_key, code_system, occurrence_no",
        id,
        |r| details::occurrence(r, 0),
    )?;
    let texts: Vec<(Option<String>, Option<String>, Option<String>)> = collect(
        conn,
        "SELECT narrative, preliminary, probable_cause FROM narratives WHERE event_id = ?1 ORDER BY aircraft_key",
        id,
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let (mut narratives, mut causes) = (Vec::new(), Vec::new());
    for (narrative, preliminary, cause) in texts {
        push_text(&mut narratives, narrative.or(preliminary));
        push_text(&mut causes, cause);
    }
    d.narrative = (!narratives.is_empty()).then(|| narratives.join("\n\n"));
    d.probable_cause = (!causes.is_empty()).then(|| causes.join("\n"));
    d.recommendations = collect(
        conn,
        "SELECT recommendation FROM safety_recommendations WHERE event_id = ?1 AND recommendation <> '' \
         ORDER BY rec_no",
        id,
        |r| r.get(0),
    )?;
    d.revisions = collect(
        conn,
        "SELECT r.table_name, r.row_key, r.field, r.old_value, r.new_value, r.load_id, ifnull(l.path, ''), \
         r.changed_at FROM revisions r LEFT JOIN loads l ON l.id = r.load_id WHERE r.event_id = ?1 ORDER BY r.id",
        id,
        |r| details::revision(r, 0),
    )?;
    d.sources = collect(
        conn,
        "SELECT l.id, l.path, l.format, l.started_at FROM loads l WHERE l.id IN ( \
             SELECT created_load FROM events WHERE id = ?1 \
             UNION SELECT updated_load FROM events WHERE id = ?1 \
             UNION SELECT load_id FROM revisions WHERE event_id = ?1) ORDER BY l.id",
        id,
        |r| details::source(r, 0),
    )?;
    Ok(Some(d))
}

impl Documents for SqliteStore {
    fn event_detail(&self, ev_id: &str) -> Result<Option<EventDetail>> {
        let key = ev_id.trim();
        if key.is_empty() {
            return Ok(None);
        }
        let conn = self.reader()?;
        // One read transaction: a single snapshot (a load committing meanwhile
        // cannot mix old and new rows) and one WAL lock instead of one per query.
        let snapshot = conn.unchecked_transaction()?;
        match event_id_of(&mut Lite(&snapshot), key)? {
            Some(id) => detail(&snapshot, id),
            None => Ok(None),
        }
    }

    fn event_detail_json_is_local(&self) -> bool {
        // One primary-key read of a file on this machine (a document being
        // rebuilt is computed in a few hundred microseconds, rarely).
        true
    }

    fn event_detail_json(&self, ev_id: &str) -> Result<Option<Vec<u8>>> {
        let key = ev_id.trim();
        if key.is_empty() {
            return Ok(None);
        }
        let conn = self.reader()?;
        let snapshot = conn.unchecked_transaction()?;
        let Some(id) = event_id_of(&mut Lite(&snapshot), key)? else { return Ok(None) };
        let ready: Option<Vec<u8>> = snapshot
            .prepare_cached("SELECT body FROM event_documents WHERE event_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        match ready {
            Some(body) => Ok(Some(body)),
            // Changed since its document was built (or never built): compute it.
            None => detail(&snapshot, id)?.map(|d| detail_json(&d)).transpose(),
        }
    }
}
