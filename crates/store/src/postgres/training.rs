//! [`TrainingData`] for [`PostgresStore`]: the same statements as SQLite
//! ([`crate::training::sql`]), merged by the same [`crate::training::merge`], in
//! one read transaction so the four tables are seen at one point in time.

use postgres::Row;

use super::PostgresStore;
use super::sql::{Db, Param};
use crate::Result;
use crate::training::{AircraftFacts, CrewFact, TrainingData, TrainingFilter, TrainingRow, merge, sql};

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

/// Reads training rows, all of them or the one of event `only` (an `ev_id`).
fn read_rows(db: &mut Db<'_, '_>, filter: &TrainingFilter, only: Option<&str>) -> Result<Vec<TrainingRow>> {
    let mut events_sql = sql::EVENTS.to_string();
    let accident = "accident";
    let mut params: Vec<Param<'_>> = Vec::new();
    if filter.accidents_only {
        events_sql.push_str(" AND e.event_type = ?");
        params.push(&accident);
    }
    if let Some(ev_id) = &only {
        events_sql.push_str(" AND e.ev_id = ?");
        params.push(ev_id);
    }
    events_sql.push_str(" ORDER BY e.id");
    let events = db.query(&events_sql, &params)?.iter().map(event_row).collect::<Result<Vec<_>>>()?;
    if only.is_some() && events.len() != 1 {
        return Ok(Vec::new());
    }
    let id = events.first().map(|(id, _)| *id);
    // One event: restrict the child tables to its internal id.
    let scoped = |base: &str, one: &str| if only.is_some() { format!("{base}{one}") } else { base.to_string() };
    let one: Vec<Param<'_>> = match (&only, &id) {
        (Some(_), Some(id)) => vec![id],
        _ => Vec::new(),
    };
    let aircraft_sql = format!("{}{}", scoped(sql::AIRCRAFT, sql::ONE_EVENT_AIRCRAFT), sql::AIRCRAFT_ORDER);
    let aircraft = db.query(&aircraft_sql, &one)?.iter().map(aircraft_row).collect::<Result<Vec<_>>>()?;
    let pilots_sql = format!("{}{}", scoped(sql::PILOTS, sql::ONE_EVENT_PILOT), sql::PILOTS_ORDER);
    let pilots = db.query(&pilots_sql, &one)?.iter().map(crew_row::<i64>).collect::<Result<Vec<_>>>()?;
    let hours_sql = scoped(sql::HOURS, sql::ONE_EVENT_HOURS);
    let hours = db.query(&hours_sql, &one)?.iter().map(crew_row::<f64>).collect::<Result<Vec<_>>>()?;
    Ok(merge(events, aircraft, pilots, hours))
}

impl TrainingData for PostgresStore {
    fn training_rows(&self, filter: &TrainingFilter) -> Result<Vec<TrainingRow>> {
        self.read(|db| read_rows(db, filter, None))
    }

    fn training_row(&self, ev_id: &str) -> Result<Option<TrainingRow>> {
        Ok(self.read(|db| read_rows(db, &TrainingFilter::default(), Some(ev_id)))?.into_iter().next())
    }
}
