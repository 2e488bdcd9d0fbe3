//! [`TrainingData`] for [`PostgresStore`]: the same statements as SQLite
//! ([`crate::training::sql`]), merged by the same [`crate::training::merge`], in
//! one read transaction so the four tables are seen at one point in time.

use postgres::Row;

use super::PostgresStore;
use super::sql::{Db, Param};
use crate::Result;
use crate::training::{
    AircraftFacts, CrewFact, TrainingData, TrainingFilter, TrainingRow, distinct, in_order, merge, sql,
};

fn event_row(r: &Row) -> Result<(i64, TrainingRow)> {
    Ok((
        r.try_get(0)?,
        TrainingRow {
            ev_id: r.try_get(1)?,
            event_type: r.try_get(2)?,
            event_date: r.try_get(3)?,
            state: r.try_get(4)?,
            country: r.try_get(5)?,
            latitude: r.try_get(6)?,
            longitude: r.try_get(7)?,
            airport_code: r.try_get(8)?,
            light_condition: r.try_get(9)?,
            weather: r.try_get(10)?,
            phase: r.try_get(11)?,
            highest_injury: r.try_get(12)?,
            inj_fatal: r.try_get(13)?,
            inj_serious: r.try_get(14)?,
            inj_minor: r.try_get(15)?,
            inj_none: r.try_get(16)?,
            airport_name: r.try_get(17)?,
            ..TrainingRow::default()
        },
    ))
}

fn aircraft_row(r: &Row) -> Result<AircraftFacts> {
    Ok(AircraftFacts {
        event_id: r.try_get(0)?,
        make: r.try_get(1)?,
        model: r.try_get(2)?,
        category: r.try_get(3)?,
        // Stored as 0/1 like SQLite's INTEGER.
        amateur_built: r.try_get::<_, Option<i64>>(4)?.map(|v| v != 0),
        num_engines: r.try_get(5)?,
        engine_type: r.try_get(6)?,
        far_part: r.try_get(7)?,
        schedule: r.try_get(8)?,
        purpose: r.try_get(9)?,
        damage: r.try_get(10)?,
        phase: r.try_get(11)?,
    })
}

fn crew_row<T>(r: &Row) -> Result<CrewFact<T>>
where
    for<'a> Option<T>: postgres::types::FromSql<'a>,
{
    Ok(CrewFact { event_id: r.try_get(0)?, aircraft_key: r.try_get(1)?, crew_no: r.try_get(2)?, value: r.try_get(3)? })
}

/// Restricts the events query to a batch of `ev_id`s (one `text[]` parameter).
const MANY_EVENTS: &str = " AND e.ev_id = ANY(?)";
/// Restricts a child table to a batch of internal event ids (one `bigint[]`).
const MANY_AIRCRAFT: &str = " AND a.event_id = ANY(?)";
/// See [`MANY_AIRCRAFT`].
const MANY_PILOTS: &str = " AND c.event_id = ANY(?)";
/// See [`MANY_AIRCRAFT`].
const MANY_HOURS: &str = " AND t.event_id = ANY(?)";

/// Which events to read.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// Every event matching the filter.
    All(&'a TrainingFilter),
    /// One event by `ev_id`.
    One(&'a str),
    /// The events of these distinct `ev_id`s.
    Many(&'a [&'a str]),
}

/// Reads and merges the training rows of `scope`, in store order.
fn read_rows(db: &mut Db<'_, '_>, scope: Scope<'_>) -> Result<Vec<TrainingRow>> {
    let mut events_sql = sql::EVENTS.to_string();
    let accident = "accident";
    let (one_id, many_ids);
    let mut params: Vec<Param<'_>> = Vec::new();
    match scope {
        Scope::All(filter) => {
            if filter.accidents_only {
                events_sql.push_str(" AND e.event_type = ?");
                params.push(&accident);
            }
        }
        Scope::One(ev_id) => {
            one_id = ev_id;
            events_sql.push_str(" AND e.ev_id = ?");
            params.push(&one_id);
        }
        Scope::Many(ev_ids) => {
            many_ids = ev_ids;
            events_sql.push_str(MANY_EVENTS);
            params.push(&many_ids);
        }
    }
    events_sql.push_str(" ORDER BY e.id");
    let events = db.query(&events_sql, &params)?.iter().map(event_row).collect::<Result<Vec<_>>>()?;
    match scope {
        Scope::One(_) if events.len() != 1 => return Ok(Vec::new()),
        Scope::Many(_) if events.is_empty() => return Ok(Vec::new()),
        _ => {}
    }
    // One event or a batch: restrict the child tables to their internal ids.
    let ids: Vec<i64> = events.iter().map(|(id, _)| *id).collect();
    let first = ids.first().copied().unwrap_or_default();
    let restricted = |base: &str, one: &str, many: &str| match scope {
        Scope::All(_) => base.to_string(),
        Scope::One(_) => format!("{base}{one}"),
        Scope::Many(_) => format!("{base}{many}"),
    };
    let bound: Vec<Param<'_>> = match scope {
        Scope::All(_) => Vec::new(),
        Scope::One(_) => vec![&first],
        Scope::Many(_) => vec![&ids],
    };
    let aircraft_sql =
        format!("{}{}", restricted(sql::AIRCRAFT, sql::ONE_EVENT_AIRCRAFT, MANY_AIRCRAFT), sql::AIRCRAFT_ORDER);
    let aircraft = db.query(&aircraft_sql, &bound)?.iter().map(aircraft_row).collect::<Result<Vec<_>>>()?;
    let pilots_sql = format!("{}{}", restricted(sql::PILOTS, sql::ONE_EVENT_PILOT, MANY_PILOTS), sql::PILOTS_ORDER);
    let pilots = db.query(&pilots_sql, &bound)?.iter().map(crew_row::<i64>).collect::<Result<Vec<_>>>()?;
    let hours_sql = restricted(sql::HOURS, sql::ONE_EVENT_HOURS, MANY_HOURS);
    let hours = db.query(&hours_sql, &bound)?.iter().map(crew_row::<f64>).collect::<Result<Vec<_>>>()?;
    Ok(merge(events, aircraft, pilots, hours))
}

impl TrainingData for PostgresStore {
    fn training_rows(&self, filter: &TrainingFilter) -> Result<Vec<TrainingRow>> {
        self.read(|db| read_rows(db, Scope::All(filter)))
    }

    fn training_row(&self, ev_id: &str) -> Result<Option<TrainingRow>> {
        Ok(self.read(|db| read_rows(db, Scope::One(ev_id)))?.into_iter().next())
    }

    fn training_rows_by_ids(&self, ev_ids: &[&str]) -> Result<Vec<Option<TrainingRow>>> {
        if ev_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = distinct(ev_ids);
        Ok(in_order(ev_ids, self.read(|db| read_rows(db, Scope::Many(&ids)))?))
    }
}
