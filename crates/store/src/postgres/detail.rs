//! Event details for [`PostgresStore`]: computed from the tables for any number
//! of events at once, and kept as ready JSON documents (`event_documents`,
//! migration 0009) so that `GET /api/v1/events/{ev_id}` is one round trip.
//!
//! [`details`] reads each table once for a whole set of events (`event_id =
//! ANY(…)`), so building the documents of 500 events costs thirteen statements,
//! not thirteen per event. A document is stored only under the writers' advisory
//! lock ([`super::TAKE_WRITE_LOCK`]) and deleted by triggers whenever anything it shows
//! changes, so a stored document always equals the detail computed now (the
//! conformance suite checks it on both backends).

use std::collections::HashMap;

use ntsb_model::query::{
    AircraftDetail, CrewDetail, EngineDetail, EventDetail, FindingDetail, InjuryDetail, OccurrenceDetail,
    RevisionDetail, SourceRef,
};
use postgres::Row;

use super::sql::Db;
use super::{TRY_WRITE_LOCK, WRITE_LOCK, limit_param};
use crate::Result;
use crate::query::{detail_json, push_text};
use crate::sql::reads::summaries_by_id;

/// An integer 0/1 column as a flag.
fn flag(r: &Row, idx: usize) -> Result<Option<bool>> {
    Ok(r.try_get::<_, Option<i64>>(idx)?.map(|v| v != 0))
}

/// The details of the given events, in the given order (an id without an event
/// is left out).
pub(super) fn details(db: &mut Db<'_, '_>, ids: &[i64]) -> Result<Vec<EventDetail>> {
    let summaries = summaries_by_id(db, ids)?;
    let found: Vec<i64> = summaries.iter().map(|s| s.event_id).collect();
    let mut by_id: HashMap<i64, EventDetail> =
        summaries.into_iter().map(|s| (s.event_id, EventDetail { summary: s, ..Default::default() })).collect();
    let ids = &found;

    for r in db.query(
        "SELECT id, airport_code, airport_name, event_time, light_condition, report_status, record_status, \
         publication_date FROM events WHERE id = ANY(?1)",
        &[ids],
    )? {
        let Some(d) = by_id.get_mut(&r.try_get::<_, i64>(0)?) else { continue };
        d.airport_code = r.try_get(1)?;
        d.airport_name = r.try_get(2)?;
        d.event_time = r.try_get(3)?;
        d.light_condition = r.try_get(4)?;
        d.report_status = r.try_get(5)?;
        d.record_status = r.try_get(6)?;
        d.publication_date = r.try_get(7)?;
    }

    for r in db.query(
        "SELECT event_id, aircraft_key, ntsb_no, registration, serial_no, make, make_raw, model, category, \
         category_raw, amateur_built, num_engines, engine_type, far_part, far_part_raw, schedule, purpose, operator, \
         damage, damage_raw, phase, phase_raw FROM aircraft WHERE event_id = ANY(?1) ORDER BY event_id, aircraft_key",
        &[ids],
    )? {
        if let Some(d) = by_id.get_mut(&r.try_get::<_, i64>(0)?) {
            d.aircraft.push(aircraft(&r)?);
        }
    }

    for r in db.query(
        "SELECT event_id, aircraft_key, eng_no, eng_type, eng_mfgr, eng_model, power_units, hp_or_lbs, \
         carb_fuel_injection, propeller_type, propeller_make, propeller_model, eng_time_total, eng_time_last_insp, \
         eng_time_overhaul FROM engines WHERE event_id = ANY(?1) ORDER BY event_id, aircraft_key, eng_no",
        &[ids],
    )? {
        let Some(d) = by_id.get_mut(&r.try_get::<_, i64>(0)?) else { continue };
        let key: i64 = r.try_get(1)?;
        // An engine of an aircraft the event does not list is not shown.
        if let Some(a) = d.aircraft.iter_mut().find(|a| a.aircraft_key == key) {
            a.engines.push(engine(&r)?);
        }
    }

    for r in db.query(
        "SELECT event_id, aircraft_key, crew_no, crew_category, crew_age, crew_sex, med_certf, crew_inj_level, \
         seatbelts_used, shldr_harn_used FROM flight_crew WHERE event_id = ANY(?1) \
         ORDER BY event_id, aircraft_key, crew_no",
        &[ids],
    )? {
        if let Some(d) = by_id.get_mut(&r.try_get::<_, i64>(0)?) {
            d.crew.push(CrewDetail {
                aircraft_key: r.try_get(1)?,
                crew_no: r.try_get(2)?,
                crew_category: r.try_get(3)?,
                crew_age: r.try_get(4)?,
                crew_sex: r.try_get(5)?,
                med_certf: r.try_get(6)?,
                crew_inj_level: r.try_get(7)?,
                seatbelts_used: flag(&r, 8)?,
                shldr_harn_used: flag(&r, 9)?,
            });
        }
    }

    for r in db.query(
        "SELECT event_id, aircraft_key, inj_person_category, injury_level, inj_person_count FROM injury \
         WHERE event_id = ANY(?1) ORDER BY event_id, aircraft_key, inj_person_category, injury_level",
        &[ids],
    )? {
        if let Some(d) = by_id.get_mut(&r.try_get::<_, i64>(0)?) {
            d.injury_rows.push(InjuryDetail {
                aircraft_key: r.try_get(1)?,
                person_category: r.try_get(2)?,
                injury_level: r.try_get(3)?,
                count: r.try_get(4)?,
            });
        }
    }

    for r in db.query(
        "SELECT event_id, aircraft_key, finding_no, finding_code, finding_description, cause_factor FROM findings \
         WHERE event_id = ANY(?1) ORDER BY event_id, aircraft_key, finding_no",
        &[ids],
    )? {
        if let Some(d) = by_id.get_mut(&r.try_get::<_, i64>(0)?) {
            d.findings.push(FindingDetail {
                aircraft_key: r.try_get(1)?,
                finding_no: r.try_get(2)?,
                code: r.try_get(3)?,
                description: r.try_get(4)?,
                cause_factor: r.try_get(5)?,
            });
        }
    }

    for r in db.query(
        "SELECT event_id, aircraft_key, code_system, occurrence_no, occurrence_code, occurrence_meaning, phase, \
         phase_meaning, defining_event FROM occurrences WHERE event_id = ANY(?1) \
         ORDER BY event_id, aircraft_key, code_system, occurrence_no",
        &[ids],
    )? {
        if let Some(d) = by_id.get_mut(&r.try_get::<_, i64>(0)?) {
            d.occurrences.push(OccurrenceDetail {
                aircraft_key: r.try_get(1)?,
                code_system: r.try_get(2)?,
                occurrence_no: r.try_get(3)?,
                code: r.try_get(4)?,
                meaning: r.try_get(5)?,
                phase: r.try_get(6)?,
                phase_meaning: r.try_get(7)?,
                defining_event: flag(&r, 8)?,
            });
        }
    }

    // Narratives and probable causes: each distinct text once, aircraft by aircraft.
    let mut texts: HashMap<i64, (Vec<String>, Vec<String>)> = HashMap::new();
    for r in db.query(
        "SELECT event_id, narrative, preliminary, probable_cause FROM narratives WHERE event_id = ANY(?1) \
         ORDER BY event_id, aircraft_key",
        &[ids],
    )? {
        let (narrative, preliminary, cause): (Option<String>, Option<String>, Option<String>) =
            (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        let (narratives, causes) = texts.entry(r.try_get(0)?).or_default();
        push_text(narratives, narrative.or(preliminary));
        push_text(causes, cause);
    }
    for (id, (narratives, causes)) in texts {
        if let Some(d) = by_id.get_mut(&id) {
            d.narrative = (!narratives.is_empty()).then(|| narratives.join("\n\n"));
            d.probable_cause = (!causes.is_empty()).then(|| causes.join("\n"));
        }
    }

    for r in db.query(
        "SELECT event_id, recommendation FROM safety_recommendations WHERE event_id = ANY(?1) \
         AND recommendation <> '' ORDER BY event_id, rec_no",
        &[ids],
    )? {
        if let Some(d) = by_id.get_mut(&r.try_get::<_, i64>(0)?) {
            d.recommendations.push(r.try_get(1)?);
        }
    }

    for r in db.query(
        "SELECT r.event_id, r.table_name, r.row_key, r.field, r.old_value, r.new_value, r.load_id, \
         coalesce(l.path, ''), r.changed_at FROM revisions r LEFT JOIN loads l ON l.id = r.load_id \
         WHERE r.event_id = ANY(?1) ORDER BY r.event_id, r.id",
        &[ids],
    )? {
        if let Some(d) = by_id.get_mut(&r.try_get::<_, i64>(0)?) {
            d.revisions.push(RevisionDetail {
                table: r.try_get(1)?,
                row_key: r.try_get(2)?,
                field: r.try_get(3)?,
                old_value: r.try_get(4)?,
                new_value: r.try_get(5)?,
                load_id: r.try_get(6)?,
                source: r.try_get(7)?,
                changed_at: r.try_get(8)?,
            });
        }
    }

    // The loads that created, updated or revised each event, each once.
    for r in db.query(
        "SELECT x.event_id, l.id, l.path, l.format, l.started_at FROM ( \
             SELECT id AS event_id, created_load AS load_id FROM events WHERE id = ANY(?1) \
             UNION SELECT id, updated_load FROM events WHERE id = ANY(?1) \
             UNION SELECT event_id, load_id FROM revisions WHERE event_id = ANY(?1)) x \
         JOIN loads l ON l.id = x.load_id ORDER BY x.event_id, l.id",
        &[ids],
    )? {
        if let Some(d) = by_id.get_mut(&r.try_get::<_, i64>(0)?) {
            d.sources.push(SourceRef {
                load_id: r.try_get(1)?,
                path: r.try_get(2)?,
                format: r.try_get(3)?,
                loaded_at: r.try_get(4)?,
            });
        }
    }

    Ok(found.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The detail of one event.
pub(super) fn detail(db: &mut Db<'_, '_>, id: i64) -> Result<Option<EventDetail>> {
    Ok(details(db, &[id])?.pop())
}

/// Builds and stores the documents of up to `limit` events that have none, in
/// the caller's transaction, provided no writer holds the writers' lock; returns
/// how many it built (0 when the lock is busy: the writer will move the data
/// version, and the builder looks again then).
pub(super) fn build_documents(db: &mut Db<'_, '_>, limit: usize) -> Result<usize> {
    let locked: bool = db.query_one(TRY_WRITE_LOCK, &[&WRITE_LOCK])?.try_get(0)?;
    if !locked {
        return Ok(0);
    }
    let ids: Vec<i64> = db
        .query(
            "SELECT e.id FROM event_facts e WHERE NOT EXISTS (SELECT 1 FROM event_documents d WHERE d.event_id = e.id) \
             ORDER BY e.id LIMIT ?1",
            &[&limit_param(limit)],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(0);
    }
    let built = details(db, &ids)?;
    let event_ids: Vec<i64> = built.iter().map(|d| d.summary.event_id).collect();
    let bodies: Vec<Vec<u8>> = built.iter().map(detail_json).collect::<Result<_>>()?;
    db.execute(
        "INSERT INTO event_documents (event_id, body) SELECT * FROM unnest(?1::bigint[], ?2::bytea[])",
        &[&event_ids, &bodies],
    )?;
    Ok(event_ids.len())
}

/// The stored document of an event, by `ev_id` (or, failing that, the first
/// event with that NTSB number), with the event's row id: `(id, NULL)` when the
/// event exists but has no current document, no row when there is no such event.
/// A server-side function (migration 0009) whose plans are cached.
pub(super) const DOCUMENT_BY_KEY: &str = "SELECT id, body FROM event_document(?1)";

fn aircraft(r: &Row) -> Result<AircraftDetail> {
    Ok(AircraftDetail {
        aircraft_key: r.try_get(1)?,
        ntsb_no: r.try_get(2)?,
        registration: r.try_get(3)?,
        serial_no: r.try_get(4)?,
        make: r.try_get(5)?,
        make_raw: r.try_get(6)?,
        model: r.try_get(7)?,
        category: r.try_get(8)?,
        category_raw: r.try_get(9)?,
        amateur_built: flag(r, 10)?,
        num_engines: r.try_get(11)?,
        engine_type: r.try_get(12)?,
        far_part: r.try_get(13)?,
        far_part_raw: r.try_get(14)?,
        schedule: r.try_get(15)?,
        purpose: r.try_get(16)?,
        operator: r.try_get(17)?,
        damage: r.try_get(18)?,
        damage_raw: r.try_get(19)?,
        phase: r.try_get(20)?,
        phase_raw: r.try_get(21)?,
        engines: Vec::new(),
    })
}

fn engine(r: &Row) -> Result<EngineDetail> {
    Ok(EngineDetail {
        eng_no: r.try_get(2)?,
        eng_type: r.try_get(3)?,
        eng_mfgr: r.try_get(4)?,
        eng_model: r.try_get(5)?,
        power_units: r.try_get(6)?,
        hp_or_lbs: r.try_get(7)?,
        carb_fuel_injection: r.try_get(8)?,
        propeller_type: r.try_get(9)?,
        propeller_make: r.try_get(10)?,
        propeller_model: r.try_get(11)?,
        eng_time_total: r.try_get(12)?,
        eng_time_last_insp: r.try_get(13)?,
        eng_time_overhaul: r.try_get(14)?,
    })
}
