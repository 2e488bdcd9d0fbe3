//! [`Queries`] for [`SqliteStore`]: listings, details, statistics, maps and exports.
//!
//! Every query takes its condition from [`Where::from_filter`]; SQL text is built
//! only from the static pieces in this file and in `query_filter.rs`, user values
//! travel as parameters. Injuries always come from the event's own totals.

use std::collections::HashMap;

use ntsb_model::query::{
    AircraftDetail, Breakdown, BreakdownRow, Cluster, CrewDetail, EngineDetail, EventDetail, EventFilter, EventPage,
    EventQuery, EventSummary, FindingDetail, FindingRow, GridCell, Injuries, InjuryDetail, MAX_PAGE, OccurrenceDetail,
    OccurrenceRow, RevisionDetail, Sort, SortField, SourceRef, Summary, haversine_km, wilson_interval,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

use super::SqliteStore;
use super::query_filter::{DESTROYED, FATAL, Where};
use crate::query::cursor::{self, SortKey};
use crate::query::dbscan::dbscan;
use crate::query::{detail_json, invalid, push_text};
use crate::{MAX_CLUSTER_POINTS, Queries, Result};

/// Columns of an [`EventSummary`], read by [`summary_row`] in this order.
const SUMMARY_COLS: &str = "e.id, ev.ev_id, ev.ntsb_no, ev.event_date, ev.event_type, ev.state, ev.city, ev.country, \
     ev.latitude, ev.longitude, ev.highest_injury, ev.inj_fatal, ev.inj_serious, ev.inj_minor, ev.inj_none, e.make, \
     e.model, ev.phase, ev.weather, e.has_text, ev.synthetic";

/// Facts (filtered, `e`, which also carry the first aircraft's make and model)
/// and the event row (`ev`): one row per event.
const SUMMARY_FROM: &str = "event_facts e JOIN events ev ON ev.id = e.id";

/// Events with coordinates.
const HAS_COORDS: &str = "e.latitude IS NOT NULL AND e.longitude IS NOT NULL";

/// Pages read per round by [`Queries::export_events`]; the connection is released between pages.
const EXPORT_PAGE: usize = 1000;

fn count(n: Option<i64>) -> u64 {
    n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

fn sql_limit(n: usize) -> SqlValue {
    SqlValue::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn summary_row(r: &Row<'_>) -> rusqlite::Result<EventSummary> {
    Ok(EventSummary {
        event_id: r.get(0)?,
        ev_id: r.get(1)?,
        ntsb_no: r.get(2)?,
        event_date: r.get(3)?,
        event_type: r.get(4)?,
        state: r.get(5)?,
        city: r.get(6)?,
        country: r.get(7)?,
        latitude: r.get(8)?,
        longitude: r.get(9)?,
        highest_injury: r.get(10)?,
        injuries: Injuries {
            fatal: count(r.get(11)?),
            serious: count(r.get(12)?),
            minor: count(r.get(13)?),
            none: count(r.get(14)?),
        },
        make: r.get(15)?,
        model: r.get(16)?,
        phase: r.get(17)?,
        weather: r.get(18)?,
        has_narrative: r.get(19)?,
        synthetic: r.get::<_, Option<bool>>(20)?.unwrap_or(false),
    })
}

/// SQL expression of a sort key (never NULL, so keyset comparisons are total).
fn sort_expr(field: SortField) -> &'static str {
    match field {
        SortField::Date => "ifnull(e.event_date, '')",
        SortField::Fatalities => "e.inj_fatal",
        SortField::State => "ifnull(e.state, '')",
        SortField::Make => "ifnull(e.make, '')",
    }
}

/// Events of `w` in `sort` order after the position `after`, at most `limit`, each
/// with its sort key.
fn page(
    conn: &Connection,
    w: &Where,
    sort: Sort,
    after: Option<&(SortKey, i64)>,
    limit: usize,
) -> Result<Vec<(EventSummary, SortKey)>> {
    let key = sort_expr(sort.field);
    let (dir, cmp) = if sort.descending { ("DESC", "<") } else { ("ASC", ">") };
    let mut params = w.params.clone();
    let keyset = match after {
        Some((k, id)) => {
            params.push(match k {
                SortKey::Int(i) => SqlValue::Integer(*i),
                SortKey::Text(t) => SqlValue::Text(t.clone()),
            });
            params.push(SqlValue::Integer(*id));
            let glue = if w.sql().is_empty() { "WHERE" } else { "AND" };
            format!("{glue} ({key}, e.id) {cmp} (?, ?)")
        }
        None => String::new(),
    };
    params.push(sql_limit(limit));
    let sql = format!(
        "SELECT {SUMMARY_COLS}, {key} FROM {SUMMARY_FROM} {where_} {keyset} ORDER BY {key} {dir}, e.id {dir} LIMIT ?",
        where_ = w.sql()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(params), |r| {
        let k = match sort.field {
            SortField::Fatalities => SortKey::Int(r.get(21)?),
            _ => SortKey::Text(r.get(21)?),
        };
        Ok((summary_row(r)?, k))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Summaries of the given events, in the given order.
fn summaries_by_id(conn: &Connection, ids: &[i64]) -> Result<Vec<EventSummary>> {
    let mut w = Where::default();
    let json = format!("[{}]", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
    w.push("e.id IN (SELECT value FROM json_each(?))", [SqlValue::Text(json)]);
    let sql = format!("SELECT {SUMMARY_COLS} FROM {SUMMARY_FROM} {}", w.sql());
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut by_id: HashMap<i64, EventSummary> = stmt
        .query_map(params_from_iter(w.params), summary_row)?
        .map(|r| r.map(|s| (s.event_id, s)))
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The group key of a breakdown, its second key, and the join it needs. Only
/// static SQL.
fn breakdown_sql(by: Breakdown) -> (&'static str, &'static str, &'static str) {
    const NO_JOIN: &str = "";
    match by {
        Breakdown::Year => ("substr(e.event_date, 1, 4)", "NULL", NO_JOIN),
        Breakdown::Month => ("substr(e.event_date, 6, 2)", "NULL", NO_JOIN),
        Breakdown::Season => (
            "CASE WHEN substr(e.event_date, 6, 2) IN ('12', '01', '02') THEN 'winter' \
                  WHEN substr(e.event_date, 6, 2) IN ('03', '04', '05') THEN 'spring' \
                  WHEN substr(e.event_date, 6, 2) IN ('06', '07', '08') THEN 'summer' \
                  WHEN substr(e.event_date, 6, 2) IN ('09', '10', '11') THEN 'autumn' END",
            "NULL",
            NO_JOIN,
        ),
        Breakdown::DayOfWeek => ("strftime('%w', e.event_date)", "NULL", NO_JOIN),
        Breakdown::Decade => ("substr(e.event_date, 1, 3) || '0'", "NULL", NO_JOIN),
        Breakdown::State => ("e.state", "NULL", NO_JOIN),
        Breakdown::Phase => ("e.phase", "NULL", NO_JOIN),
        Breakdown::Weather => ("e.weather", "NULL", NO_JOIN),
        Breakdown::Make => (
            "g.make",
            "NULL",
            "JOIN (SELECT DISTINCT event_id, make FROM aircraft WHERE make <> '') g ON g.event_id = e.id",
        ),
        Breakdown::MakeModel => (
            "g.make",
            "g.model",
            "JOIN (SELECT DISTINCT event_id, make, model FROM aircraft WHERE make <> '') g ON g.event_id = e.id",
        ),
        Breakdown::FarPart => (
            "g.far_part",
            "NULL",
            "JOIN (SELECT DISTINCT event_id, far_part FROM aircraft WHERE far_part <> '') g ON g.event_id = e.id",
        ),
    }
}

const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

fn season_rank(key: &str) -> usize {
    ["winter", "spring", "summer", "autumn"].iter().position(|s| *s == key).unwrap_or(4)
}

fn rate(successes: u64, n: u64) -> (f64, [f64; 2]) {
    let (lo, hi) = wilson_interval(successes, n);
    (if n == 0 { 0.0 } else { successes as f64 / n as f64 }, [lo, hi])
}

/// Checks a latitude/longitude pair given by a user.
fn check_point(lat: f64, lon: f64) -> Result<()> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(invalid("lat", "must be a latitude in -90..90"));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(invalid("lon", "must be a longitude in -180..180"));
    }
    Ok(())
}

/// A box around (`lat`, `lon`) containing every point within `km`, as a condition.
fn radius_box(w: &mut Where, lat: f64, lon: f64, km: f64) {
    const R: f64 = 6371.0088;
    let dlat = (km / R).to_degrees();
    let (lo, hi) = (lat - dlat, lat + dlat);
    w.push("e.latitude BETWEEN ? AND ?", [SqlValue::Real(lo.max(-90.0)), SqlValue::Real(hi.min(90.0))]);
    if lo <= -90.0 || hi >= 90.0 || km / R >= std::f64::consts::FRAC_PI_2 {
        return; // a pole is within reach: every longitude is
    }
    let ratio = (km / R).sin() / lat.to_radians().cos();
    if ratio >= 1.0 {
        return;
    }
    let dlon = ratio.asin().to_degrees();
    let (west, east) = (lon - dlon, lon + dlon);
    if west < -180.0 {
        w.push("e.longitude >= ? OR e.longitude <= ?", [SqlValue::Real(west + 360.0), SqlValue::Real(east)]);
    } else if east > 180.0 {
        w.push("e.longitude >= ? OR e.longitude <= ?", [SqlValue::Real(west), SqlValue::Real(east - 360.0)]);
    } else {
        w.push("e.longitude BETWEEN ? AND ?", [SqlValue::Real(west), SqlValue::Real(east)]);
    }
}

fn collect<T>(conn: &Connection, sql: &str, id: i64, f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([id], f)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The store id of the event with this `ev_id`, or else the first with this `ntsb_no`.
fn event_id_of(conn: &Connection, key: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM events WHERE ev_id = ?1 \
             UNION ALL SELECT * FROM (SELECT id FROM events WHERE ntsb_no = ?1 ORDER BY id LIMIT 1) \
             LIMIT 1",
        )?
        .query_row([key], |r| r.get(0))
        .optional()?)
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
        let rows = stmt.query_map([sql_limit(limit)], |r| r.get(0))?;
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

/// The summary of one event (a primary-key read; [`summaries_by_id`] for many).
fn summary_by_id(conn: &Connection, id: i64) -> Result<Option<EventSummary>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {SUMMARY_COLS} FROM {SUMMARY_FROM} WHERE e.id = ?1"))?
        .query_row([id], summary_row)
        .optional()?)
}

fn detail(conn: &Connection, id: i64) -> Result<Option<EventDetail>> {
    let Some(summary) = summary_by_id(conn, id)? else {
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

impl Queries for SqliteStore {
    fn list_events(&self, q: &EventQuery) -> Result<EventPage> {
        let w = Where::from_filter(&q.filter)?;
        let after = q.cursor.as_deref().map(|c| cursor::decode(c, q.sort)).transpose()?;
        let limit = q.limit.clamp(1, MAX_PAGE);
        let conn = self.reader()?;
        let total: i64 = conn
            .prepare_cached(&format!("SELECT count(*) FROM event_facts e {}", w.sql()))?
            .query_row(params_from_iter(&w.params), |r| r.get(0))?;
        // One extra row tells whether another page follows.
        let mut rows = page(&conn, &w, q.sort, after.as_ref(), limit + 1)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = match rows.last() {
            Some((s, k)) if more => Some(cursor::encode(q.sort, k.clone(), s.event_id)),
            _ => None,
        };
        Ok(EventPage { items: rows.into_iter().map(|(s, _)| s).collect(), total: count(Some(total)), next_cursor })
    }

    fn event_detail(&self, ev_id: &str) -> Result<Option<EventDetail>> {
        let key = ev_id.trim();
        if key.is_empty() {
            return Ok(None);
        }
        let conn = self.reader()?;
        // One read transaction: a single snapshot (a load committing meanwhile
        // cannot mix old and new rows) and one WAL lock instead of one per query.
        let snapshot = conn.unchecked_transaction()?;
        match event_id_of(&snapshot, key)? {
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
        let Some(id) = event_id_of(&snapshot, key)? else { return Ok(None) };
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

    fn summary(&self, f: &EventFilter) -> Result<Summary> {
        let w = Where::from_filter(f)?;
        let conn = self.reader()?;
        let mut s = conn
            .prepare_cached(&format!(
                "SELECT count(*), sum(e.event_type = 'accident'), sum(e.event_type = 'incident'), sum({FATAL}), \
                 sum(ifnull(e.inj_fatal, 0)), sum(ifnull(e.inj_serious, 0)), sum(ifnull(e.inj_minor, 0)), \
                 sum({DESTROYED}), min(nullif(e.event_date, '')), max(nullif(e.event_date, '')) \
                 FROM event_facts e {}",
                w.sql()
            ))?
            .query_row(params_from_iter(&w.params), |r| {
                Ok(Summary {
                    events: count(r.get(0)?),
                    accidents: count(r.get(1)?),
                    incidents: count(r.get(2)?),
                    fatal_events: count(r.get(3)?),
                    fatalities: count(r.get(4)?),
                    serious_injuries: count(r.get(5)?),
                    minor_injuries: count(r.get(6)?),
                    destroyed: count(r.get(7)?),
                    first_event: r.get(8)?,
                    last_event: r.get(9)?,
                    ..Default::default()
                })
            })?;
        // Unfiltered, every aircraft row counts (each belongs to an event).
        let aircraft_sql = if w.sql().is_empty() {
            "SELECT count(*) FROM aircraft".to_string()
        } else {
            format!("SELECT count(*) FROM aircraft WHERE event_id IN (SELECT e.id FROM event_facts e {})", w.sql())
        };
        let aircraft: i64 = conn.prepare_cached(&aircraft_sql)?.query_row(params_from_iter(&w.params), |r| r.get(0))?;
        s.aircraft = count(Some(aircraft));
        (s.fatal_rate, s.fatal_rate_ci95) = rate(s.fatal_events, s.events);
        Ok(s)
    }

    fn breakdown(&self, by: Breakdown, f: &EventFilter, min_count: u64, limit: usize) -> Result<Vec<BreakdownRow>> {
        let w = Where::from_filter(f)?;
        let (key, key2, join) = breakdown_sql(by);
        let order = if by.ordered_by_key() { "1, 2" } else { "3 DESC, 1, 2" };
        let sql = format!(
            "SELECT ifnull(nullif({key}, ''), 'unknown'), {key2}, count(*), sum({FATAL}), sum(ifnull(e.inj_fatal, 0)), \
             sum(ifnull(e.inj_serious, 0)), sum({DESTROYED}) FROM event_facts e {join} {where_} \
             GROUP BY 1, 2 HAVING count(*) >= ? ORDER BY {order} LIMIT ?",
            where_ = w.sql()
        );
        let mut params = w.params.clone();
        params.push(SqlValue::Integer(i64::try_from(min_count).unwrap_or(i64::MAX)));
        params.push(sql_limit(limit));
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params), |r| {
            let events = count(r.get(2)?);
            let fatal_events = count(r.get(3)?);
            let (fatal_rate, fatal_rate_ci95) = rate(fatal_events, events);
            Ok(BreakdownRow {
                key: r.get(0)?,
                key2: r.get(1)?,
                events,
                fatal_events,
                fatalities: count(r.get(4)?),
                serious_injuries: count(r.get(5)?),
                destroyed: count(r.get(6)?),
                fatal_rate,
                fatal_rate_ci95,
            })
        })?;
        let mut out: Vec<BreakdownRow> = rows.collect::<rusqlite::Result<_>>()?;
        match by {
            Breakdown::DayOfWeek => {
                for row in &mut out {
                    row.key2 = row.key.parse::<usize>().ok().and_then(|d| WEEKDAYS.get(d)).map(|d| d.to_string());
                }
            }
            Breakdown::Season => out.sort_by_key(|r| season_rank(&r.key)),
            _ => {}
        }
        Ok(out)
    }

    fn top_findings(&self, f: &EventFilter, limit: usize) -> Result<Vec<FindingRow>> {
        let w = Where::from_filter(f)?;
        // Counted from the (code, event, cause) index alone; descriptions are looked
        // up for the returned codes only (the shortest form: without " - C"/" - F").
        let join = if w.sql().is_empty() { "" } else { "JOIN event_facts e ON e.id = f.event_id" };
        let sql = format!(
            "SELECT top.code, (SELECT min(d.finding_description) FROM findings d WHERE d.finding_code = top.code \
             AND d.finding_description <> ''), top.events, top.causes FROM ( \
             SELECT f.finding_code AS code, count(DISTINCT f.event_id) AS events, \
             count(DISTINCT CASE WHEN f.cause_factor = 'cause' THEN f.event_id END) AS causes \
             FROM findings f {join} WHERE f.finding_code <> '' {and} GROUP BY f.finding_code \
             ORDER BY 2 DESC, 1 LIMIT ?) top ORDER BY top.events DESC, top.code",
            and = w.and_sql()
        );
        let mut params = w.params.clone();
        params.push(sql_limit(limit));
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params), |r| {
            let events = count(r.get(2)?);
            let cited_as_cause = count(r.get(3)?);
            Ok(FindingRow {
                code: r.get(0)?,
                description: r.get(1)?,
                events,
                cited_as_cause,
                cause_share: if events == 0 { 0.0 } else { cited_as_cause as f64 / events as f64 },
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn top_occurrences(&self, f: &EventFilter, limit: usize) -> Result<Vec<OccurrenceRow>> {
        let w = Where::from_filter(f)?;
        // Counted from the (code, event, defining) index alone; meanings are looked
        // up for the returned codes only.
        let join = if w.sql().is_empty() { "" } else { "JOIN event_facts e ON e.id = o.event_id" };
        let sql = format!(
            "SELECT top.code, (SELECT min(m.occurrence_meaning) FROM occurrences m WHERE m.occurrence_code = top.code \
             AND m.occurrence_meaning <> ''), top.events, top.defining FROM ( \
             SELECT o.occurrence_code AS code, count(DISTINCT o.event_id) AS events, \
             count(DISTINCT CASE WHEN o.defining_event = 1 THEN o.event_id END) AS defining \
             FROM occurrences o {join} WHERE o.occurrence_code <> '' {and} GROUP BY o.occurrence_code \
             ORDER BY 2 DESC, 1 LIMIT ?) top ORDER BY top.events DESC, top.code",
            and = w.and_sql()
        );
        let mut params = w.params.clone();
        params.push(sql_limit(limit));
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params), |r| {
            Ok(OccurrenceRow {
                code: r.get(0)?,
                meaning: r.get(1)?,
                events: count(r.get(2)?),
                defining: count(r.get(3)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn geo_events(&self, f: &EventFilter, limit: usize) -> Result<Vec<EventSummary>> {
        let mut w = Where::from_filter(f)?;
        w.push(HAS_COORDS, []);
        let conn = self.reader()?;
        Ok(page(&conn, &w, Sort::default(), None, limit)?.into_iter().map(|(s, _)| s).collect())
    }

    fn radius(&self, f: &EventFilter, lat: f64, lon: f64, km: f64, limit: usize) -> Result<Vec<(EventSummary, f64)>> {
        check_point(lat, lon)?;
        if !km.is_finite() || km <= 0.0 || km > 20_100.0 {
            return Err(invalid("km", "must be a distance in km above 0 and at most 20,100"));
        }
        let mut w = Where::from_filter(f)?;
        w.push(HAS_COORDS, []);
        radius_box(&mut w, lat, lon, km);
        let conn = self.reader()?;
        let mut near: Vec<(i64, f64)> = {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT e.id, e.latitude, e.longitude FROM event_facts e {}", w.sql()))?;
            let rows = stmt.query_map(params_from_iter(&w.params), |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?, r.get::<_, f64>(2)?))
            })?;
            let mut near = Vec::new();
            for row in rows {
                let (id, la, lo) = row?;
                let d = haversine_km(lat, lon, la, lo);
                if d <= km {
                    near.push((id, d));
                }
            }
            near
        };
        near.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        near.truncate(limit);
        let ids: Vec<i64> = near.iter().map(|(id, _)| *id).collect();
        let summaries = summaries_by_id(&conn, &ids)?;
        Ok(summaries.into_iter().zip(near).map(|(s, (_, d))| (s, d)).collect())
    }

    fn grid_density(&self, f: &EventFilter, cell_degrees: f64) -> Result<Vec<GridCell>> {
        if !cell_degrees.is_finite() || !(0.001..=90.0).contains(&cell_degrees) {
            return Err(invalid("cell", "must be a cell size in degrees between 0.001 and 90"));
        }
        let w = Where::from_filter(f)?;
        let sql = format!(
            "SELECT CAST((e.latitude + 90.0) / ? AS INTEGER), CAST((e.longitude + 180.0) / ? AS INTEGER), \
             count(*), sum({FATAL}) FROM event_facts e WHERE {HAS_COORDS} {and} GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
            and = w.and_sql()
        );
        let mut params = vec![SqlValue::Real(cell_degrees), SqlValue::Real(cell_degrees)];
        params.extend(w.params.iter().cloned());
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params), |r| {
            let (gy, gx): (i64, i64) = (r.get(0)?, r.get(1)?);
            Ok(GridCell {
                lat: ((gy as f64 + 0.5) * cell_degrees - 90.0).min(90.0),
                lon: ((gx as f64 + 0.5) * cell_degrees - 180.0).min(180.0),
                events: count(r.get(2)?),
                fatal_events: count(r.get(3)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn clusters(&self, f: &EventFilter, eps_km: f64, min_points: usize, limit: usize) -> Result<Vec<Cluster>> {
        if !eps_km.is_finite() || eps_km <= 0.0 || eps_km > 1000.0 {
            return Err(invalid("eps_km", "must be a distance in km above 0 and at most 1,000"));
        }
        if min_points == 0 {
            return Err(invalid("min_points", "must be at least 1"));
        }
        let w = Where::from_filter(f)?;
        let sql = format!(
            "SELECT ifnull(ev.ev_id, ev.ntsb_no), e.latitude, e.longitude, {FATAL} FROM event_facts e \
             JOIN events ev ON ev.id = e.id \
             WHERE {HAS_COORDS} {and} ORDER BY ifnull(e.event_date, '') DESC, e.id DESC LIMIT ?",
            and = w.and_sql()
        );
        let mut params = w.params.clone();
        params.push(sql_limit(MAX_CLUSTER_POINTS));
        let (ids, points, fatal) = {
            let conn = self.reader()?;
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(params))?;
            let (mut ids, mut points, mut fatal) = (Vec::new(), Vec::new(), Vec::new());
            while let Some(r) = rows.next()? {
                ids.push(r.get::<_, Option<String>>(0)?.unwrap_or_default());
                points.push((r.get::<_, f64>(1)?, r.get::<_, f64>(2)?));
                fatal.push(r.get::<_, bool>(3)?);
            }
            (ids, points, fatal)
        };
        let labels = dbscan(&points, eps_km, min_points);
        let mut members: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, l) in labels.iter().enumerate() {
            if let Some(l) = l {
                members.entry(*l).or_default().push(i);
            }
        }
        let mut groups: Vec<Vec<usize>> = members.into_values().collect();
        groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
        groups.truncate(limit);
        Ok(groups
            .into_iter()
            .enumerate()
            .map(|(n, idx)| {
                // Centroid of the unit vectors, so a cluster across the antimeridian stays put.
                let (mut x, mut y, mut z) = (0.0, 0.0, 0.0);
                for &i in &idx {
                    let (la, lo) = (points[i].0.to_radians(), points[i].1.to_radians());
                    x += la.cos() * lo.cos();
                    y += la.cos() * lo.sin();
                    z += la.sin();
                }
                let lat = z.atan2((x * x + y * y).sqrt()).to_degrees();
                let lon = y.atan2(x).to_degrees();
                let radius_km =
                    idx.iter().map(|&i| haversine_km(lat, lon, points[i].0, points[i].1)).fold(0.0, f64::max);
                Cluster {
                    id: u32::try_from(n).unwrap_or(u32::MAX),
                    lat,
                    lon,
                    events: idx.len() as u64,
                    fatal_events: idx.iter().filter(|&&i| fatal[i]).count() as u64,
                    radius_km,
                    ev_ids: idx.iter().take(10).map(|&i| ids[i].clone()).collect(),
                }
            })
            .collect())
    }

    fn export_events(&self, f: &EventFilter, sink: &mut dyn FnMut(&EventSummary) -> Result<()>) -> Result<u64> {
        let w = Where::from_filter(f)?;
        let sort = Sort { field: SortField::Date, descending: false };
        let mut after: Option<(SortKey, i64)> = None;
        let mut sent = 0u64;
        loop {
            // The connection is held for one page at a time, never while the sink runs.
            let rows = {
                let conn = self.reader()?;
                page(&conn, &w, sort, after.as_ref(), EXPORT_PAGE)?
            };
            let last_page = rows.len() < EXPORT_PAGE;
            for (s, k) in rows {
                sink(&s)?;
                sent += 1;
                after = Some((k, s.event_id));
            }
            if last_page {
                return Ok(sent);
            }
        }
    }
}
