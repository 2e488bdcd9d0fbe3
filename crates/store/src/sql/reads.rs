//! [`Queries`] written once: listings, statistics, maps and exports over the
//! filter of [`super::filter`], for every [`SqlStore`]. Injuries always come
//! from the event's own totals. Sums are cast to `BIGINT` (PostgreSQL sums
//! integers as `numeric`), and text orders bytewise on both backends.
//!
//! Event details are the backend's own ([`Documents`]): SQLite reads them on
//! the calling thread from its file, PostgreSQL builds them set-based and
//! serves stored documents without a thread (`postgres/detail.rs`,
//! `postgres/nonblocking.rs`).

use std::collections::HashMap;

use ntsb_model::query::{
    Breakdown, BreakdownRow, Cluster, EventDetail, EventFilter, EventPage, EventQuery, EventSummary, FindingRow,
    GridCell, Injuries, MAX_PAGE, OccurrenceRow, OccurrenceTotal, PhaseOccurrenceCell, PhaseOccurrences, Sort,
    SortField, Summary, fatal_rate, haversine_km,
};

use super::filter::{DESTROYED, FATAL, Where};
use super::{Arg, Conn, Dialect, Row, SqlStore, limit_arg};
use crate::query::cursor::{self, SortKey};
use crate::query::dbscan::dbscan;
use crate::query::invalid;
use crate::{DocumentFuture, MAX_CLUSTER_POINTS, Queries, Result};

/// Columns of an [`EventSummary`], read by [`summary_row`] in this order.
pub(crate) const SUMMARY_COLS: &str = "e.id, ev.ev_id, ev.ntsb_no, ev.event_date, ev.event_type, ev.state, ev.city, \
     ev.country, ev.latitude, ev.longitude, ev.highest_injury, ev.inj_fatal, ev.inj_serious, ev.inj_minor, \
     ev.inj_none, e.make, e.model, ev.phase, ev.weather, e.has_text, ev.synthetic";

/// Facts (filtered, `e`, which also carry the first aircraft's make and model,
/// migration 0005) and the event row (`ev`): one row per event.
pub(crate) const SUMMARY_FROM: &str = "event_facts e JOIN events ev ON ev.id = e.id";

/// Events with coordinates.
const HAS_COORDS: &str = "e.latitude IS NOT NULL AND e.longitude IS NOT NULL";

/// Pages read per round by [`Queries::export_events`]; the connection is released between pages.
const EXPORT_PAGE: usize = 1000;

/// The event detail reads, which each backend does its own way (see the module doc).
pub(crate) trait Documents {
    /// See [`Queries::event_detail`].
    fn event_detail(&self, ev_id: &str) -> Result<Option<EventDetail>>;
    /// See [`Queries::event_detail_json`].
    fn event_detail_json(&self, ev_id: &str) -> Result<Option<Vec<u8>>>;
    /// See [`Queries::event_document_nonblocking`].
    fn event_document_nonblocking(&self, ev_id: &str) -> Option<DocumentFuture> {
        let _ = ev_id;
        None
    }
    /// See [`Queries::event_detail_json_is_local`].
    fn event_detail_json_is_local(&self) -> bool {
        false
    }
    /// Whether radius queries may pre-filter with PostGIS (PostgreSQL with the extension).
    fn use_postgis(&self) -> bool {
        false
    }
}

pub(crate) fn count(n: Option<i64>) -> u64 {
    n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// One [`EventSummary`] from [`SUMMARY_COLS`].
pub(crate) fn summary_row(r: &dyn Row) -> Result<EventSummary> {
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
        synthetic: r.get::<Option<bool>>(20)?.unwrap_or(false),
    })
}

/// SQL expression of a sort key (never NULL, so keyset comparisons are total);
/// spelled as the sort indexes of migrations 0004 and 0005 are.
fn sort_expr(field: SortField, d: Dialect) -> String {
    match field {
        SortField::Date => format!("{}(e.event_date, '')", d.ifnull()),
        SortField::Fatalities => "e.inj_fatal".to_string(),
        SortField::State => format!("{}(e.state, '')", d.ifnull()),
        SortField::Make => format!("{}(e.make, '')", d.ifnull()),
    }
}

/// Events of `w` in `sort` order after the position `after`, at most `limit`, each
/// with its sort key.
fn page(
    db: &mut dyn Conn,
    w: &Where,
    sort: Sort,
    after: Option<&(SortKey, i64)>,
    limit: usize,
) -> Result<Vec<(EventSummary, SortKey)>> {
    let key = sort_expr(sort.field, db.dialect());
    let (dir, cmp) = if sort.descending { ("DESC", "<") } else { ("ASC", ">") };
    let mut params = w.params.clone();
    let keyset = match after {
        Some((k, id)) => {
            params.push(match k {
                SortKey::Int(i) => Arg::Int(*i),
                SortKey::Text(t) => Arg::Text(t.clone()),
            });
            params.push(Arg::Int(*id));
            let glue = if w.sql().is_empty() { "WHERE" } else { "AND" };
            format!("{glue} ({key}, e.id) {cmp} (?, ?)")
        }
        None => String::new(),
    };
    params.push(limit_arg(limit));
    let sql = format!(
        "SELECT {SUMMARY_COLS}, {key} FROM {SUMMARY_FROM} {where_} {keyset} ORDER BY {key} {dir}, e.id {dir} LIMIT ?",
        where_ = w.sql()
    );
    db.query(&sql, &params, |r| {
        let k = match sort.field {
            SortField::Fatalities => SortKey::Int(r.get(21)?),
            _ => SortKey::Text(r.get(21)?),
        };
        Ok((summary_row(r)?, k))
    })
}

/// Summaries of the given events, in the given order.
pub(crate) fn summaries_by_id(db: &mut dyn Conn, ids: &[i64]) -> Result<Vec<EventSummary>> {
    let sql = format!("SELECT {SUMMARY_COLS} FROM {SUMMARY_FROM} WHERE {}", db.dialect().in_list("e.id"));
    let mut by_id: HashMap<i64, EventSummary> =
        db.query(&sql, &[Arg::Ints(ids.to_vec())], |r| summary_row(r).map(|s| (s.event_id, s)))?.into_iter().collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The summary of one event (a primary-key read; [`summaries_by_id`] for many).
pub(crate) fn summary_by_id(db: &mut dyn Conn, id: i64) -> Result<Option<EventSummary>> {
    db.query_opt(&format!("SELECT {SUMMARY_COLS} FROM {SUMMARY_FROM} WHERE e.id = ?1"), &[Arg::Int(id)], summary_row)
}

/// The store id of the event with this `ev_id`, or else the first with this `ntsb_no`.
pub(crate) fn event_id_of(db: &mut dyn Conn, key: &str) -> Result<Option<i64>> {
    db.query_opt(
        "SELECT id FROM events WHERE ev_id = ?1 \
         UNION ALL SELECT * FROM (SELECT id FROM events WHERE ntsb_no = ?1 ORDER BY id LIMIT 1) x \
         LIMIT 1",
        &[Arg::from(key)],
        |r| r.get(0),
    )
}

/// The group key of a breakdown, its second key, and the join it needs. Only
/// static SQL.
fn breakdown_sql(by: Breakdown, d: Dialect) -> (String, &'static str, &'static str) {
    const NO_JOIN: &str = "";
    match by {
        Breakdown::Year => ("substr(e.event_date, 1, 4)".into(), "NULL", NO_JOIN),
        Breakdown::Month => ("substr(e.event_date, 6, 2)".into(), "NULL", NO_JOIN),
        Breakdown::Season => (
            "CASE WHEN substr(e.event_date, 6, 2) IN ('12', '01', '02') THEN 'winter' \
                  WHEN substr(e.event_date, 6, 2) IN ('03', '04', '05') THEN 'spring' \
                  WHEN substr(e.event_date, 6, 2) IN ('06', '07', '08') THEN 'summer' \
                  WHEN substr(e.event_date, 6, 2) IN ('09', '10', '11') THEN 'autumn' END"
                .into(),
            "NULL",
            NO_JOIN,
        ),
        Breakdown::DayOfWeek => (d.weekday("e.event_date"), "NULL", NO_JOIN),
        Breakdown::Decade => ("substr(e.event_date, 1, 3) || '0'".into(), "NULL", NO_JOIN),
        Breakdown::State => ("e.state".into(), "NULL", NO_JOIN),
        Breakdown::Phase => ("e.phase".into(), "NULL", NO_JOIN),
        Breakdown::Weather => ("e.weather".into(), "NULL", NO_JOIN),
        Breakdown::Make => (
            "g.make".into(),
            "NULL",
            "JOIN (SELECT DISTINCT event_id, make FROM aircraft WHERE make <> '') g ON g.event_id = e.id",
        ),
        Breakdown::MakeModel => (
            "g.make".into(),
            "g.model",
            "JOIN (SELECT DISTINCT event_id, make, model FROM aircraft WHERE make <> '') g ON g.event_id = e.id",
        ),
        Breakdown::FarPart => (
            "g.far_part".into(),
            "NULL",
            "JOIN (SELECT DISTINCT event_id, far_part FROM aircraft WHERE far_part <> '') g ON g.event_id = e.id",
        ),
        Breakdown::Country => ("e.country".into(), "NULL", NO_JOIN),
        Breakdown::Category => (
            "g.category".into(),
            "NULL",
            "JOIN (SELECT DISTINCT event_id, category FROM aircraft WHERE category <> '') g ON g.event_id = e.id",
        ),
        Breakdown::Engines => (
            "CAST(g.num_engines AS TEXT)".into(),
            "NULL",
            "JOIN (SELECT DISTINCT event_id, num_engines FROM aircraft WHERE num_engines IS NOT NULL) g \
             ON g.event_id = e.id",
        ),
        Breakdown::AmateurBuilt => (
            "CASE g.amateur_built WHEN 1 THEN 'yes' WHEN 0 THEN 'no' END".into(),
            "NULL",
            "JOIN (SELECT DISTINCT event_id, amateur_built FROM aircraft WHERE amateur_built IS NOT NULL) g \
             ON g.event_id = e.id",
        ),
    }
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
    w.push("e.latitude BETWEEN ? AND ?", [Arg::Real(lo.max(-90.0)), Arg::Real(hi.min(90.0))]);
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
        w.push("e.longitude >= ? OR e.longitude <= ?", [Arg::Real(west + 360.0), Arg::Real(east)]);
    } else if east > 180.0 {
        w.push("e.longitude >= ? OR e.longitude <= ?", [Arg::Real(west), Arg::Real(east - 360.0)]);
    } else {
        w.push("e.longitude BETWEEN ? AND ?", [Arg::Real(west), Arg::Real(east)]);
    }
}

/// Appends `extra` to a copy of `w`'s parameters.
fn with(w: &Where, extra: impl IntoIterator<Item = Arg>) -> Vec<Arg> {
    let mut params = w.params.clone();
    params.extend(extra);
    params
}

/// Turns clustered points into clusters, largest first, at most `limit`.
fn clusters_of(
    ids: Vec<String>,
    points: Vec<(f64, f64)>,
    fatal: Vec<bool>,
    labels: Vec<Option<u32>>,
    limit: usize,
) -> Vec<Cluster> {
    let mut members: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, l) in labels.iter().enumerate() {
        if let Some(l) = l {
            members.entry(*l).or_default().push(i);
        }
    }
    let mut groups: Vec<Vec<usize>> = members.into_values().collect();
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    groups.truncate(limit);
    groups
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
            let radius_km = idx.iter().map(|&i| haversine_km(lat, lon, points[i].0, points[i].1)).fold(0.0, f64::max);
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
        .collect()
}

/// One page of `q`, with the count of all matches when `counted` (else 0).
fn list(store: &impl SqlStore, q: &EventQuery, counted: bool) -> Result<EventPage> {
    let after = q.cursor.as_deref().map(|c| cursor::decode(c, q.sort)).transpose()?;
    let limit = q.limit.clamp(1, MAX_PAGE);
    let w = Where::from_filter(&q.filter, store.dialect())?;
    let (total, mut rows) = store.read(|db| {
        let total: i64 =
            if counted { db.scalar(&format!("SELECT count(*) FROM event_facts e {}", w.sql()), &w.params)? } else { 0 };
        // One extra row tells whether another page follows.
        Ok((total, page(db, &w, q.sort, after.as_ref(), limit + 1)?))
    })?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = match rows.last() {
        Some((s, k)) if more => Some(cursor::encode(q.sort, k.clone(), s.event_id)),
        _ => None,
    };
    Ok(EventPage { items: rows.into_iter().map(|(s, _)| s).collect(), total: count(Some(total)), next_cursor })
}

impl<S: SqlStore + Documents> Queries for S {
    fn list_events(&self, q: &EventQuery) -> Result<EventPage> {
        list(self, q, true)
    }

    fn list_events_uncounted(&self, q: &EventQuery) -> Result<EventPage> {
        list(self, q, false)
    }

    fn event_summaries(&self, ids: &[i64]) -> Result<Vec<EventSummary>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.read(|db| summaries_by_id(db, ids))
    }

    fn event_detail(&self, ev_id: &str) -> Result<Option<EventDetail>> {
        Documents::event_detail(self, ev_id)
    }

    fn event_detail_json(&self, ev_id: &str) -> Result<Option<Vec<u8>>> {
        Documents::event_detail_json(self, ev_id)
    }

    fn event_document_nonblocking(&self, ev_id: &str) -> Option<DocumentFuture> {
        Documents::event_document_nonblocking(self, ev_id)
    }

    fn event_detail_json_is_local(&self) -> bool {
        Documents::event_detail_json_is_local(self)
    }

    fn summary(&self, f: &EventFilter) -> Result<Summary> {
        let w = Where::from_filter(f, self.dialect())?;
        let ifnull = self.dialect().ifnull();
        let mut s = self.read(|db| {
            let mut s = db.query_one(
                &format!(
                    "SELECT count(*), count(CASE WHEN e.event_type = 'accident' THEN 1 END), \
                     count(CASE WHEN e.event_type = 'incident' THEN 1 END), CAST(sum({FATAL}) AS BIGINT), \
                     CAST(sum({ifnull}(e.inj_fatal, 0)) AS BIGINT), CAST(sum({ifnull}(e.inj_serious, 0)) AS BIGINT), \
                     CAST(sum({ifnull}(e.inj_minor, 0)) AS BIGINT), CAST(sum({DESTROYED}) AS BIGINT), \
                     min(nullif(e.event_date, '')), max(nullif(e.event_date, '')) FROM event_facts e {}",
                    w.sql()
                ),
                &w.params,
                |r| {
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
                },
            )?;
            // Unfiltered, every aircraft row counts (each belongs to an event).
            let aircraft_sql = if w.sql().is_empty() {
                "SELECT count(*) FROM aircraft".to_string()
            } else {
                format!("SELECT count(*) FROM aircraft WHERE event_id IN (SELECT e.id FROM event_facts e {})", w.sql())
            };
            s.aircraft = count(Some(db.scalar(&aircraft_sql, &w.params)?));
            Ok(s)
        })?;
        (s.fatal_rate, s.fatal_rate_ci95) = fatal_rate(s.fatal_events, s.events);
        Ok(s)
    }

    fn breakdown(&self, by: Breakdown, f: &EventFilter, min_count: u64, limit: usize) -> Result<Vec<BreakdownRow>> {
        let order = if by.ordered_by_key() { "1, 2 NULLS FIRST" } else { "3 DESC, 1, 2 NULLS FIRST" };
        let d = self.dialect();
        let w = Where::from_filter(f, d)?;
        let (key, key2, join) = breakdown_sql(by, d);
        let (ifnull, bytewise) = (d.ifnull(), d.bytewise());
        let sql = format!(
            "SELECT {ifnull}(nullif({key}, ''), 'unknown'){bytewise}, CAST({key2} AS TEXT){bytewise}, count(*), \
                 CAST(sum({FATAL}) AS BIGINT), CAST(sum({ifnull}(e.inj_fatal, 0)) AS BIGINT), \
                 CAST(sum({ifnull}(e.inj_serious, 0)) AS BIGINT), CAST(sum({DESTROYED}) AS BIGINT) \
                 FROM event_facts e {join} {where_} GROUP BY 1, 2 HAVING count(*) >= ? ORDER BY {order} LIMIT ?",
            where_ = w.sql()
        );
        let params = with(&w, [Arg::Int(i64::try_from(min_count).unwrap_or(i64::MAX)), limit_arg(limit)]);
        let mut out = self.read(|db| {
            db.query(&sql, &params, |r| {
                Ok(BreakdownRow::new(
                    r.get(0)?,
                    r.get(1)?,
                    count(r.get(2)?),
                    count(r.get(3)?),
                    count(r.get(4)?),
                    count(r.get(5)?),
                    count(r.get(6)?),
                ))
            })
        })?;
        // The order above is `Breakdown::rank`'s.
        by.finish(&mut out);
        Ok(out)
    }

    fn top_findings(&self, f: &EventFilter, limit: usize) -> Result<Vec<FindingRow>> {
        let w = Where::from_filter(f, self.dialect())?;
        self.read(|db| {
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
            db.query(&sql, &with(&w, [limit_arg(limit)]), |r| {
                let events = count(r.get(2)?);
                let cited_as_cause = count(r.get(3)?);
                Ok(FindingRow {
                    code: r.get(0)?,
                    description: r.get(1)?,
                    events,
                    cited_as_cause,
                    cause_share: if events == 0 { 0.0 } else { cited_as_cause as f64 / events as f64 },
                })
            })
        })
    }

    fn top_occurrences(&self, f: &EventFilter, limit: usize) -> Result<Vec<OccurrenceRow>> {
        let w = Where::from_filter(f, self.dialect())?;
        self.read(|db| {
            // Counted from the (code, event, defining) index alone; meanings are looked
            // up for the returned codes only.
            let join = if w.sql().is_empty() { "" } else { "JOIN event_facts e ON e.id = o.event_id" };
            let sql = format!(
                "SELECT top.code, (SELECT min(m.occurrence_meaning) FROM occurrences m \
                 WHERE m.occurrence_code = top.code AND m.occurrence_meaning <> ''), top.events, top.defining FROM ( \
                 SELECT o.occurrence_code AS code, count(DISTINCT o.event_id) AS events, \
                 count(DISTINCT CASE WHEN o.defining_event = 1 THEN o.event_id END) AS defining \
                 FROM occurrences o {join} WHERE o.occurrence_code <> '' {and} GROUP BY o.occurrence_code \
                 ORDER BY 2 DESC, 1 LIMIT ?) top ORDER BY top.events DESC, top.code",
                and = w.and_sql()
            );
            db.query(&sql, &with(&w, [limit_arg(limit)]), |r| {
                Ok(OccurrenceRow {
                    code: r.get(0)?,
                    meaning: r.get(1)?,
                    events: count(r.get(2)?),
                    defining: count(r.get(3)?),
                })
            })
        })
    }

    fn phase_occurrences(&self, f: &EventFilter, occurrences: usize) -> Result<PhaseOccurrences> {
        let w = Where::from_filter(f, self.dialect())?;
        self.read(|db| {
            let join = if w.sql().is_empty() { "" } else { "JOIN event_facts e ON e.id = o.event_id" };
            // The occurrence without its phase: CICTT codes are phase×1000+event, so
            // the meaning (the event part) is what the phases share.
            const KIND: &str =
                "CASE WHEN o.occurrence_meaning <> '' THEN o.occurrence_meaning ELSE o.occurrence_code END";
            let top = format!(
                "SELECT {KIND}, count(DISTINCT o.event_id) FROM occurrences o {join} \
                 WHERE o.occurrence_code <> '' {and} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?",
                and = w.and_sql()
            );
            let totals = db.query(&top, &with(&w, [limit_arg(occurrences)]), |r| {
                Ok(OccurrenceTotal { occurrence: r.get(0)?, events: count(r.get(1)?) })
            })?;
            if totals.is_empty() {
                return Ok(PhaseOccurrences::default());
            }
            let marks = vec!["?"; totals.len()].join(", ");
            let cells_sql = format!(
                "SELECT COALESCE(o.phase, 'unknown'), {KIND}, count(DISTINCT o.event_id) FROM occurrences o {join} \
                 WHERE o.occurrence_code <> '' {and} AND {KIND} IN ({marks}) GROUP BY 1, 2",
                and = w.and_sql()
            );
            let kinds = totals.iter().map(|t| Arg::from(t.occurrence.as_str()));
            let mut cells = db.query(&cells_sql, &with(&w, kinds), |r| {
                Ok(PhaseOccurrenceCell { phase: r.get(0)?, occurrence: r.get(1)?, events: count(r.get(2)?) })
            })?;
            // Occurrences in ranking order, phases in flight order (unknown names last).
            let rank = |o: &str| totals.iter().position(|t| t.occurrence == o).unwrap_or(usize::MAX);
            let phase_rank =
                |p: &str| ntsb_model::vocab::Phase::ALL.iter().position(|v| v.as_str() == p).unwrap_or(usize::MAX);
            cells.sort_by(|a, b| {
                (rank(&a.occurrence), phase_rank(&a.phase), &a.phase).cmp(&(
                    rank(&b.occurrence),
                    phase_rank(&b.phase),
                    &b.phase,
                ))
            });
            Ok(PhaseOccurrences { occurrences: totals, cells })
        })
    }

    fn geo_events(&self, f: &EventFilter, limit: usize) -> Result<Vec<EventSummary>> {
        let mut w = Where::from_filter(f, self.dialect())?;
        w.push(HAS_COORDS, []);
        let rows = self.read(|db| page(db, &w, Sort::default(), None, limit))?;
        Ok(rows.into_iter().map(|(s, _)| s).collect())
    }

    fn radius(&self, f: &EventFilter, lat: f64, lon: f64, km: f64, limit: usize) -> Result<Vec<(EventSummary, f64)>> {
        check_point(lat, lon)?;
        if !km.is_finite() || km <= 0.0 || km > 20_100.0 {
            return Err(invalid("km", "must be a distance in km above 0 and at most 20,100"));
        }
        let mut w = Where::from_filter(f, self.dialect())?;
        w.push(HAS_COORDS, []);
        {
            if self.use_postgis() {
                // Geography distance is on the WGS84 spheroid, which differs from the
                // haversine sphere by up to ~0.5%: keep a 1% margin, then haversine decides.
                w.push(
                    "ST_DWithin(ST_MakePoint(e.longitude, e.latitude)::geography, \
                     ST_MakePoint(?::float8, ?::float8)::geography, ?::float8)",
                    [Arg::Real(lon), Arg::Real(lat), Arg::Real(km * 1000.0 * 1.01)],
                );
            } else {
                radius_box(&mut w, lat, lon, km);
            }
        }
        self.read(|db| {
            let sql = format!("SELECT e.id, e.latitude, e.longitude FROM event_facts e {}", w.sql());
            let mut near: Vec<(i64, f64)> = Vec::new();
            db.each_row(&sql, &w.params, &mut |r| {
                let d = haversine_km(lat, lon, r.get(1)?, r.get(2)?);
                if d <= km {
                    near.push((r.get(0)?, d));
                }
                Ok(true)
            })?;
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
        let d = self.dialect();
        let w = Where::from_filter(f, d)?;
        self.read(|db| {
            let sql = format!(
                "SELECT {}, {}, count(*), CAST(sum({FATAL}) AS BIGINT) FROM event_facts e WHERE {HAS_COORDS} {and} \
                 GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
                d.truncate("(e.latitude + 90.0) / CAST(? AS DOUBLE PRECISION)"),
                d.truncate("(e.longitude + 180.0) / CAST(? AS DOUBLE PRECISION)"),
                and = w.and_sql()
            );
            let mut params = vec![Arg::Real(cell_degrees), Arg::Real(cell_degrees)];
            params.extend(w.params.iter().cloned());
            db.query(&sql, &params, |r| {
                let (gy, gx): (i64, i64) = (r.get(0)?, r.get(1)?);
                Ok(GridCell {
                    lat: ((gy as f64 + 0.5) * cell_degrees - 90.0).min(90.0),
                    lon: ((gx as f64 + 0.5) * cell_degrees - 180.0).min(180.0),
                    events: count(r.get(2)?),
                    fatal_events: count(r.get(3)?),
                })
            })
        })
    }

    fn clusters(&self, f: &EventFilter, eps_km: f64, min_points: usize, limit: usize) -> Result<Vec<Cluster>> {
        if !eps_km.is_finite() || eps_km <= 0.0 || eps_km > 1000.0 {
            return Err(invalid("eps_km", "must be a distance in km above 0 and at most 1,000"));
        }
        if min_points == 0 {
            return Err(invalid("min_points", "must be at least 1"));
        }
        let ifnull = self.dialect().ifnull();
        let w = Where::from_filter(f, self.dialect())?;
        let (ids, points, fatal) = self.read(|db| {
            let sql = format!(
                "SELECT {ifnull}(ev.ev_id, ev.ntsb_no), e.latitude, e.longitude, {FATAL} FROM event_facts e \
                 JOIN events ev ON ev.id = e.id \
                 WHERE {HAS_COORDS} {and} ORDER BY {ifnull}(e.event_date, '') DESC, e.id DESC LIMIT ?",
                and = w.and_sql()
            );
            let (mut ids, mut points, mut fatal) = (Vec::new(), Vec::new(), Vec::new());
            db.each_row(&sql, &with(&w, [limit_arg(MAX_CLUSTER_POINTS)]), &mut |r| {
                ids.push(r.get::<Option<String>>(0)?.unwrap_or_default());
                points.push((r.get(1)?, r.get(2)?));
                fatal.push(r.get(3)?);
                Ok(true)
            })?;
            Ok((ids, points, fatal))
        })?;
        let labels = dbscan(&points, eps_km, min_points);
        Ok(clusters_of(ids, points, fatal, labels, limit))
    }

    fn export_events(&self, f: &EventFilter, sink: &mut dyn FnMut(&EventSummary) -> Result<()>) -> Result<u64> {
        let w = Where::from_filter(f, self.dialect())?;
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
