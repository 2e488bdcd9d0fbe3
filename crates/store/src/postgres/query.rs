//! [`Queries`] for [`PostgresStore`]: listings, details, statistics, maps and exports.
//!
//! The same queries as `sqlite/query.rs`, in PostgreSQL's dialect, with the same
//! results: every query takes its condition from [`Where::from_filter`]; SQL text
//! is built only from the static pieces in this file and in `query_filter.rs`, user
//! values travel as parameters. Injuries always come from the event's own totals.
//! Sums are cast back to `bigint` (PostgreSQL sums integers as `numeric`), and
//! text orders bytewise (`COLLATE "C"` columns), as in SQLite.
//!
//! Radius queries use PostGIS (`ST_DWithin` on geography) as a pre-filter when the
//! extension is installed and enabled in [`super::PostgresConfig`]; otherwise the
//! bounding box on plain columns does it. Either way the exact haversine distance
//! computed here decides, so both paths (and SQLite) return the same events.

use std::collections::HashMap;

use ntsb_model::query::{
    Breakdown, BreakdownRow, Cluster, EventDetail, EventFilter, EventPage, EventQuery, EventSummary, FindingRow,
    GridCell, Injuries, MAX_PAGE, OccurrenceRow, Sort, SortField, Summary, haversine_km, wilson_interval,
};
use postgres::Row;

use super::PostgresStore;
use super::detail::{DOCUMENT_BY_KEY, detail};
use super::query_filter::{DESTROYED, FATAL, Where};
use super::sql::{Db, OwnedParam, refs};
use crate::query::cursor::{self, SortKey};
use crate::query::dbscan::dbscan;
use crate::query::{detail_json, invalid};
use crate::{DocumentFuture, DocumentLookup, MAX_CLUSTER_POINTS, Queries, Result};

/// Columns of an [`EventSummary`], read by [`summary_row`] in this order.
const SUMMARY_COLS: &str = "e.id, ev.ev_id, ev.ntsb_no, ev.event_date, ev.event_type, ev.state, ev.city, ev.country, \
     ev.latitude, ev.longitude, ev.highest_injury, ev.inj_fatal, ev.inj_serious, ev.inj_minor, ev.inj_none, a1.make, \
     a1.model, ev.phase, ev.weather, e.has_text, ev.synthetic";

/// Facts (filtered, `e`), the event row (`ev`) and the first aircraft (lowest
/// number, `a1`): at most one row per event.
const SUMMARY_FROM: &str = "event_facts e JOIN events ev ON ev.id = e.id LEFT JOIN aircraft a1 ON a1.event_id = e.id \
     AND a1.aircraft_key = (SELECT min(aircraft_key) FROM aircraft WHERE event_id = e.id)";

/// Events with coordinates.
const HAS_COORDS: &str = "e.latitude IS NOT NULL AND e.longitude IS NOT NULL";

/// Pages read per round by [`Queries::export_events`]; the connection is released between pages.
const EXPORT_PAGE: usize = 1000;

fn count(n: Option<i64>) -> u64 {
    n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

fn sql_limit(n: usize) -> OwnedParam {
    Box::new(i64::try_from(n).unwrap_or(i64::MAX))
}

fn real(v: f64) -> OwnedParam {
    Box::new(v)
}

/// An integer 0/1 column as a flag.
pub(super) fn flag(r: &Row, idx: usize) -> Result<Option<bool>> {
    Ok(r.try_get::<_, Option<i64>>(idx)?.map(|v| v != 0))
}

fn summary_row(r: &Row) -> Result<EventSummary> {
    Ok(EventSummary {
        event_id: r.try_get(0)?,
        ev_id: r.try_get(1)?,
        ntsb_no: r.try_get(2)?,
        event_date: r.try_get(3)?,
        event_type: r.try_get(4)?,
        state: r.try_get(5)?,
        city: r.try_get(6)?,
        country: r.try_get(7)?,
        latitude: r.try_get(8)?,
        longitude: r.try_get(9)?,
        highest_injury: r.try_get(10)?,
        injuries: Injuries {
            fatal: count(r.try_get(11)?),
            serious: count(r.try_get(12)?),
            minor: count(r.try_get(13)?),
            none: count(r.try_get(14)?),
        },
        make: r.try_get(15)?,
        model: r.try_get(16)?,
        phase: r.try_get(17)?,
        weather: r.try_get(18)?,
        has_narrative: r.try_get::<_, i64>(19)? != 0,
        synthetic: flag(r, 20)?.unwrap_or(false),
    })
}

/// SQL expression of a sort key (never NULL, so keyset comparisons are total).
fn sort_expr(field: SortField) -> &'static str {
    match field {
        SortField::Date => "coalesce(e.event_date, '')",
        SortField::Fatalities => "e.inj_fatal",
        SortField::State => "coalesce(e.state, '')",
        SortField::Make => "coalesce(a1.make, '')",
    }
}

/// Events of `w` in `sort` order after the position `after`, at most `limit`, each
/// with its sort key.
fn page(
    db: &mut Db<'_, '_>,
    w: &Where,
    sort: Sort,
    after: Option<&(SortKey, i64)>,
    limit: usize,
) -> Result<Vec<(EventSummary, SortKey)>> {
    let key = sort_expr(sort.field);
    let (dir, cmp) = if sort.descending { ("DESC", "<") } else { ("ASC", ">") };
    let mut params = refs(&w.params);
    let (int_key, text_key, after_id);
    let keyset = match after {
        Some((k, id)) => {
            match k {
                SortKey::Int(i) => {
                    int_key = *i;
                    params.push(&int_key);
                }
                SortKey::Text(t) => {
                    text_key = t.clone();
                    params.push(&text_key);
                }
            }
            after_id = *id;
            params.push(&after_id);
            let glue = if w.sql().is_empty() { "WHERE" } else { "AND" };
            format!("{glue} ({key}, e.id) {cmp} (?, ?)")
        }
        None => String::new(),
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    params.push(&limit);
    let sql = format!(
        "SELECT {SUMMARY_COLS}, {key} FROM {SUMMARY_FROM} {where_} {keyset} ORDER BY {key} {dir}, e.id {dir} LIMIT ?",
        where_ = w.sql()
    );
    db.query(&sql, &params)?
        .iter()
        .map(|r| {
            let k = match sort.field {
                SortField::Fatalities => SortKey::Int(r.try_get(21)?),
                _ => SortKey::Text(r.try_get(21)?),
            };
            Ok((summary_row(r)?, k))
        })
        .collect()
}

/// Summaries of the given events, in the given order.
pub(super) fn summaries_by_id(db: &mut Db<'_, '_>, ids: &[i64]) -> Result<Vec<EventSummary>> {
    let ids_param = ids.to_vec();
    let sql = format!("SELECT {SUMMARY_COLS} FROM {SUMMARY_FROM} WHERE e.id = ANY(?)");
    let mut by_id: HashMap<i64, EventSummary> = db
        .query(&sql, &[&ids_param])?
        .iter()
        .map(|r| summary_row(r).map(|s| (s.event_id, s)))
        .collect::<Result<_>>()?;
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
        Breakdown::DayOfWeek => (
            "CASE WHEN e.event_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}' \
             THEN extract(dow FROM substr(e.event_date, 1, 10)::date)::int::text END",
            "NULL",
            NO_JOIN,
        ),
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
    w.push("e.latitude BETWEEN ? AND ?", [real(lo.max(-90.0)), real(hi.min(90.0))]);
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
        w.push("e.longitude >= ? OR e.longitude <= ?", [real(west + 360.0), real(east)]);
    } else if east > 180.0 {
        w.push("e.longitude >= ? OR e.longitude <= ?", [real(west), real(east - 360.0)]);
    } else {
        w.push("e.longitude BETWEEN ? AND ?", [real(west), real(east)]);
    }
}

/// Joins distinct non-empty texts.
impl Queries for PostgresStore {
    fn list_events(&self, q: &EventQuery) -> Result<EventPage> {
        let w = Where::from_filter(&q.filter)?;
        let after = q.cursor.as_deref().map(|c| cursor::decode(c, q.sort)).transpose()?;
        let limit = q.limit.clamp(1, MAX_PAGE);
        let (total, mut rows) = self.read(|db| {
            let total: i64 = db
                .query_one(&format!("SELECT count(*) FROM event_facts e {}", w.sql()), &refs(&w.params))?
                .try_get(0)?;
            // One extra row tells whether another page follows.
            let rows = page(db, &w, q.sort, after.as_ref(), limit + 1)?;
            Ok((total, rows))
        })?;
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
        self.read(|db| {
            let id: Option<i64> = match db.query_opt(
                "SELECT id FROM events WHERE ev_id = ?1 \
                 UNION ALL SELECT * FROM (SELECT id FROM events WHERE ntsb_no = ?1 ORDER BY id LIMIT 1) x \
                 LIMIT 1",
                &[&key],
            )? {
                Some(row) => Some(row.try_get(0)?),
                None => None,
            };
            match id {
                Some(id) => detail(db, id),
                None => Ok(None),
            }
        })
    }

    fn event_detail_json(&self, ev_id: &str) -> Result<Option<Vec<u8>>> {
        let key = ev_id.trim();
        if key.is_empty() {
            return Ok(None);
        }
        let Some(row) = self.query_opt_once(DOCUMENT_BY_KEY, &[&key])? else { return Ok(None) };
        if let Some(body) = row.try_get::<_, Option<Vec<u8>>>(1)? {
            return Ok(Some(body));
        }
        // Changed since its document was built (or never built): compute it.
        let id: i64 = row.try_get(0)?;
        self.read(|db| detail(db, id))?.map(|d| detail_json(&d)).transpose()
    }

    fn event_document_nonblocking(&self, ev_id: &str) -> Option<DocumentFuture> {
        let key = ev_id.trim().to_string();
        let reads = self.document_reads.clone();
        Some(Box::pin(async move {
            if key.is_empty() {
                return Ok(DocumentLookup::NoSuchEvent);
            }
            reads.document(&key).await
        }))
    }

    fn summary(&self, f: &EventFilter) -> Result<Summary> {
        let w = Where::from_filter(f)?;
        let mut s = self.read(|db| {
            let r = db.query_one(
                &format!(
                    "SELECT count(*), count(*) FILTER (WHERE e.event_type = 'accident'), \
                     count(*) FILTER (WHERE e.event_type = 'incident'), sum({FATAL})::bigint, \
                     sum(coalesce(e.inj_fatal, 0))::bigint, sum(coalesce(e.inj_serious, 0))::bigint, \
                     sum(coalesce(e.inj_minor, 0))::bigint, sum({DESTROYED})::bigint, \
                     min(nullif(e.event_date, '')), max(nullif(e.event_date, '')) \
                     FROM event_facts e {}",
                    w.sql()
                ),
                &refs(&w.params),
            )?;
            let mut s = Summary {
                events: count(r.try_get(0)?),
                accidents: count(r.try_get(1)?),
                incidents: count(r.try_get(2)?),
                fatal_events: count(r.try_get(3)?),
                fatalities: count(r.try_get(4)?),
                serious_injuries: count(r.try_get(5)?),
                minor_injuries: count(r.try_get(6)?),
                destroyed: count(r.try_get(7)?),
                first_event: r.try_get(8)?,
                last_event: r.try_get(9)?,
                ..Default::default()
            };
            let aircraft: i64 = db
                .query_one(
                    &format!(
                        "SELECT count(*) FROM aircraft WHERE event_id IN (SELECT e.id FROM event_facts e {})",
                        w.sql()
                    ),
                    &refs(&w.params),
                )?
                .try_get(0)?;
            s.aircraft = count(Some(aircraft));
            Ok(s)
        })?;
        (s.fatal_rate, s.fatal_rate_ci95) = rate(s.fatal_events, s.events);
        Ok(s)
    }

    fn breakdown(&self, by: Breakdown, f: &EventFilter, min_count: u64, limit: usize) -> Result<Vec<BreakdownRow>> {
        let w = Where::from_filter(f)?;
        let (key, key2, join) = breakdown_sql(by);
        // SQLite sorts NULL first; so does this.
        let order = if by.ordered_by_key() { "1, 2 NULLS FIRST" } else { "3 DESC, 1, 2 NULLS FIRST" };
        let sql = format!(
            "SELECT coalesce(nullif({key}, ''), 'unknown') COLLATE \"C\", {key2}::text COLLATE \"C\", count(*), \
             sum({FATAL})::bigint, sum(coalesce(e.inj_fatal, 0))::bigint, sum(coalesce(e.inj_serious, 0))::bigint, \
             sum({DESTROYED})::bigint FROM event_facts e {join} {where_} \
             GROUP BY 1, 2 HAVING count(*) >= ? ORDER BY {order} LIMIT ?",
            where_ = w.sql()
        );
        let min_count = i64::try_from(min_count).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut out: Vec<BreakdownRow> = self.read(|db| {
            let mut params = refs(&w.params);
            params.push(&min_count);
            params.push(&limit);
            db.query(&sql, &params)?
                .iter()
                .map(|r| {
                    let events = count(r.try_get(2)?);
                    let fatal_events = count(r.try_get(3)?);
                    let (fatal_rate, fatal_rate_ci95) = rate(fatal_events, events);
                    Ok(BreakdownRow {
                        key: r.try_get(0)?,
                        key2: r.try_get(1)?,
                        events,
                        fatal_events,
                        fatalities: count(r.try_get(4)?),
                        serious_injuries: count(r.try_get(5)?),
                        destroyed: count(r.try_get(6)?),
                        fatal_rate,
                        fatal_rate_ci95,
                    })
                })
                .collect()
        })?;
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
        // As in SQLite (migration 0005): counted from the (code, event, cause)
        // index; the description is the shortest form (without " - C"/" - F") of
        // all findings with the code, looked up for the returned codes only.
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
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|db| {
            let mut params = refs(&w.params);
            params.push(&limit);
            db.query(&sql, &params)?
                .iter()
                .map(|r| {
                    let events = count(r.try_get(2)?);
                    let cited_as_cause = count(r.try_get(3)?);
                    Ok(FindingRow {
                        code: r.try_get(0)?,
                        description: r.try_get(1)?,
                        events,
                        cited_as_cause,
                        cause_share: if events == 0 { 0.0 } else { cited_as_cause as f64 / events as f64 },
                    })
                })
                .collect()
        })
    }

    fn top_occurrences(&self, f: &EventFilter, limit: usize) -> Result<Vec<OccurrenceRow>> {
        let w = Where::from_filter(f)?;
        // As in SQLite (migration 0005): meanings looked up for the returned codes only.
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
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|db| {
            let mut params = refs(&w.params);
            params.push(&limit);
            db.query(&sql, &params)?
                .iter()
                .map(|r| {
                    Ok(OccurrenceRow {
                        code: r.try_get(0)?,
                        meaning: r.try_get(1)?,
                        events: count(r.try_get(2)?),
                        defining: count(r.try_get(3)?),
                    })
                })
                .collect()
        })
    }

    fn geo_events(&self, f: &EventFilter, limit: usize) -> Result<Vec<EventSummary>> {
        let mut w = Where::from_filter(f)?;
        w.push(HAS_COORDS, []);
        let rows = self.read(|db| page(db, &w, Sort::default(), None, limit))?;
        Ok(rows.into_iter().map(|(s, _)| s).collect())
    }

    fn radius(&self, f: &EventFilter, lat: f64, lon: f64, km: f64, limit: usize) -> Result<Vec<(EventSummary, f64)>> {
        check_point(lat, lon)?;
        if !km.is_finite() || km <= 0.0 || km > 20_100.0 {
            return Err(invalid("km", "must be a distance in km above 0 and at most 20,100"));
        }
        let mut w = Where::from_filter(f)?;
        w.push(HAS_COORDS, []);
        if self.use_postgis() {
            // Geography distance is on the WGS84 spheroid, which differs from the
            // haversine sphere by up to ~0.5%: keep a 1% margin, then haversine decides.
            w.push(
                "ST_DWithin(ST_MakePoint(e.longitude, e.latitude)::geography, \
                 ST_MakePoint(?::float8, ?::float8)::geography, ?::float8)",
                [real(lon), real(lat), real(km * 1000.0 * 1.01)],
            );
        } else {
            radius_box(&mut w, lat, lon, km);
        }
        self.read(|db| {
            let mut near: Vec<(i64, f64)> = Vec::new();
            for r in db.query(
                &format!("SELECT e.id, e.latitude, e.longitude FROM event_facts e {}", w.sql()),
                &refs(&w.params),
            )? {
                let (id, la, lo): (i64, f64, f64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                let d = haversine_km(lat, lon, la, lo);
                if d <= km {
                    near.push((id, d));
                }
            }
            near.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            near.truncate(limit);
            let ids: Vec<i64> = near.iter().map(|(id, _)| *id).collect();
            let summaries = summaries_by_id(db, &ids)?;
            Ok(summaries.into_iter().zip(near).map(|(s, (_, d))| (s, d)).collect())
        })
    }

    fn grid_density(&self, f: &EventFilter, cell_degrees: f64) -> Result<Vec<GridCell>> {
        if !cell_degrees.is_finite() || !(0.001..=90.0).contains(&cell_degrees) {
            return Err(invalid("cell", "must be a cell size in degrees between 0.001 and 90"));
        }
        let w = Where::from_filter(f)?;
        // floor() of a non-negative number truncates, as SQLite's CAST does.
        let sql = format!(
            "SELECT floor((e.latitude + 90.0) / ?::float8)::bigint, floor((e.longitude + 180.0) / ?::float8)::bigint, \
             count(*), sum({FATAL})::bigint FROM event_facts e WHERE {HAS_COORDS} {and} \
             GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
            and = w.and_sql()
        );
        self.read(|db| {
            let mut params: Vec<super::sql::Param<'_>> = vec![&cell_degrees, &cell_degrees];
            params.extend(refs(&w.params));
            db.query(&sql, &params)?
                .iter()
                .map(|r| {
                    let (gy, gx): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
                    Ok(GridCell {
                        lat: ((gy as f64 + 0.5) * cell_degrees - 90.0).min(90.0),
                        lon: ((gx as f64 + 0.5) * cell_degrees - 180.0).min(180.0),
                        events: count(r.try_get(2)?),
                        fatal_events: count(r.try_get(3)?),
                    })
                })
                .collect()
        })
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
            "SELECT coalesce(ev.ev_id, ev.ntsb_no), e.latitude, e.longitude, {FATAL} FROM event_facts e \
             JOIN events ev ON ev.id = e.id \
             WHERE {HAS_COORDS} {and} ORDER BY coalesce(e.event_date, '') DESC, e.id DESC LIMIT ?",
            and = w.and_sql()
        );
        let max_points = sql_limit(MAX_CLUSTER_POINTS);
        let (ids, points, fatal) = self.read(|db| {
            let mut params = refs(&w.params);
            params.push(max_points.as_ref());
            let (mut ids, mut points, mut fatal) = (Vec::new(), Vec::new(), Vec::new());
            for r in db.query(&sql, &params)? {
                ids.push(r.try_get::<_, Option<String>>(0)?.unwrap_or_default());
                points.push((r.try_get::<_, f64>(1)?, r.try_get::<_, f64>(2)?));
                fatal.push(r.try_get::<_, i64>(3)? != 0);
            }
            Ok((ids, points, fatal))
        })?;
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
            let rows = self.read(|db| page(db, &w, sort, after.as_ref(), EXPORT_PAGE))?;
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
