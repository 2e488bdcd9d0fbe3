//! The SQLite event detail: read on the calling thread from the local file
//! (a primary-key read of a ready document, or the detail computed from its
//! rows in one read transaction), and the documents built ahead by loads.
//! Backend-specific on purpose: PostgreSQL builds documents set-based and
//! serves them without a thread (`postgres/detail.rs`). Every other query is
//! written once in `sql/reads.rs`.

use ntsb_model::query::{
    AircraftDetail, CrewDetail, EngineDetail, EventDetail, FindingDetail, InjuryDetail, OccurrenceDetail,
    RevisionDetail, SourceRef,
};
use rusqlite::{Connection, OptionalExtension, Row};

use super::SqliteStore;
use crate::Result;
use crate::query::{detail_json, push_text};
use crate::sql::conn::Lite;
use crate::sql::reads::{Documents, event_id_of, summary_by_id};

fn collect<T>(conn: &Connection, sql: &str, id: i64, f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([id], f)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
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
        |r| {
            Ok((
                r.get(0)?,
                EngineDetail {
                    eng_no: r.get(1)?,
                    eng_type: r.get(2)?,
                    eng_mfgr: r.get(3)?,
                    eng_model: r.get(4)?,
                    power_units: r.get(5)?,
                    hp_or_lbs: r.get(6)?,
                    carb_fuel_injection: r.get(7)?,
                    propeller_type: r.get(8)?,
                    propeller_make: r.get(9)?,
                    propeller_model: r.get(10)?,
                    eng_time_total: r.get(11)?,
                    eng_time_last_insp: r.get(12)?,
                    eng_time_overhaul: r.get(13)?,
                },
            ))
        },
    )?;
    d.aircraft = collect(
        conn,
        "SELECT aircraft_key, ntsb_no, registration, serial_no, make, make_raw, model, category, category_raw, \
         amateur_built, num_engines, engine_type, far_part, far_part_raw, schedule, purpose, operator, damage, \
         damage_raw, phase, phase_raw FROM aircraft WHERE event_id = ?1 ORDER BY aircraft_key",
        id,
        |r| {
            Ok(AircraftDetail {
                aircraft_key: r.get(0)?,
                ntsb_no: r.get(1)?,
                registration: r.get(2)?,
                serial_no: r.get(3)?,
                make: r.get(4)?,
                make_raw: r.get(5)?,
                model: r.get(6)?,
                category: r.get(7)?,
                category_raw: r.get(8)?,
                amateur_built: r.get(9)?,
                num_engines: r.get(10)?,
                engine_type: r.get(11)?,
                far_part: r.get(12)?,
                far_part_raw: r.get(13)?,
                schedule: r.get(14)?,
                purpose: r.get(15)?,
                operator: r.get(16)?,
                damage: r.get(17)?,
                damage_raw: r.get(18)?,
                phase: r.get(19)?,
                phase_raw: r.get(20)?,
                engines: Vec::new(),
            })
        },
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
        |r| {
            Ok(CrewDetail {
                aircraft_key: r.get(0)?,
                crew_no: r.get(1)?,
                crew_category: r.get(2)?,
                crew_age: r.get(3)?,
                crew_sex: r.get(4)?,
                med_certf: r.get(5)?,
                crew_inj_level: r.get(6)?,
                seatbelts_used: r.get(7)?,
                shldr_harn_used: r.get(8)?,
            })
        },
    )?;
    d.injury_rows = collect(
        conn,
        "SELECT aircraft_key, inj_person_category, injury_level, inj_person_count FROM injury WHERE event_id = ?1 \
         ORDER BY aircraft_key, inj_person_category, injury_level",
        id,
        |r| {
            Ok(InjuryDetail {
                aircraft_key: r.get(0)?,
                person_category: r.get(1)?,
                injury_level: r.get(2)?,
                count: r.get(3)?,
            })
        },
    )?;
    d.findings = collect(
        conn,
        "SELECT aircraft_key, finding_no, finding_code, finding_description, cause_factor FROM findings \
         WHERE event_id = ?1 ORDER BY aircraft_key, finding_no",
        id,
        |r| {
            Ok(FindingDetail {
                aircraft_key: r.get(0)?,
                finding_no: r.get(1)?,
                code: r.get(2)?,
                description: r.get(3)?,
                cause_factor: r.get(4)?,
            })
        },
    )?;
    d.occurrences = collect(
        conn,
        "SELECT aircraft_key, code_system, occurrence_no, occurrence_code, occurrence_meaning, phase, phase_meaning, \
         defining_event FROM occurrences WHERE event_id = ?1 ORDER BY aircraft_key, code_system, occurrence_no",
        id,
        |r| {
            Ok(OccurrenceDetail {
                aircraft_key: r.get(0)?,
                code_system: r.get(1)?,
                occurrence_no: r.get(2)?,
                code: r.get(3)?,
                meaning: r.get(4)?,
                phase: r.get(5)?,
                phase_meaning: r.get(6)?,
                defining_event: r.get(7)?,
            })
        },
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
        |r| {
            Ok(RevisionDetail {
                table: r.get(0)?,
                row_key: r.get(1)?,
                field: r.get(2)?,
                old_value: r.get(3)?,
                new_value: r.get(4)?,
                load_id: r.get(5)?,
                source: r.get(6)?,
                changed_at: r.get(7)?,
            })
        },
    )?;
    d.sources = collect(
        conn,
        "SELECT l.id, l.path, l.format, l.started_at FROM loads l WHERE l.id IN ( \
             SELECT created_load FROM events WHERE id = ?1 \
             UNION SELECT updated_load FROM events WHERE id = ?1 \
             UNION SELECT load_id FROM revisions WHERE event_id = ?1) ORDER BY l.id",
        id,
        |r| Ok(SourceRef { load_id: r.get(0)?, path: r.get(1)?, format: r.get(2)?, loaded_at: r.get(3)? }),
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
