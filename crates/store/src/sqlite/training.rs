//! [`TrainingData`] for [`SqliteStore`]: the portable `SELECT`s of
//! [`crate::training::sql`] (one per table), merged per event by
//! [`crate::training::merge`], exactly as the PostgreSQL backend does.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use super::SqliteStore;
use crate::Result;
use crate::training::{AircraftFacts, CrewFact, TrainingData, TrainingFilter, TrainingRow, merge, sql};

/// Reads training rows, all of them or the one of event `only` (an `ev_id`).
fn read_rows(conn: &Connection, filter: &TrainingFilter, only: Option<&str>) -> Result<Vec<TrainingRow>> {
    let mut query_sql = sql::EVENTS.to_string();
    let mut params: Vec<SqlValue> = Vec::new();
    if filter.accidents_only {
        query_sql.push_str(" AND e.event_type = ?");
        params.push(SqlValue::Text("accident".into()));
    }
    if let Some(ev_id) = only {
        query_sql.push_str(" AND e.ev_id = ?");
        params.push(SqlValue::Text(ev_id.to_string()));
    }
    query_sql.push_str(" ORDER BY e.id");
    let mut events: Vec<(i64, TrainingRow)> = Vec::new();
    {
        let mut stmt = conn.prepare_cached(&query_sql)?;
        let mut query = stmt.query(params_from_iter(params))?;
        while let Some(r) = query.next()? {
            events.push((
                r.get(0)?,
                TrainingRow {
                    ev_id: r.get(1)?,
                    event_type: r.get(2)?,
                    event_date: r.get(3)?,
                    state: r.get(4)?,
                    country: r.get(5)?,
                    latitude: r.get(6)?,
                    longitude: r.get(7)?,
                    airport_code: r.get(8)?,
                    light_condition: r.get(9)?,
                    weather: r.get(10)?,
                    phase: r.get(11)?,
                    highest_injury: r.get(12)?,
                    inj_fatal: r.get(13)?,
                    inj_serious: r.get(14)?,
                    inj_minor: r.get(15)?,
                    inj_none: r.get(16)?,
                    ..TrainingRow::default()
                },
            ));
        }
    }
    if only.is_some() && events.len() != 1 {
        return Ok(Vec::new());
    }
    // One event: restrict the child tables to its internal id.
    let scope = |base: &str, one: &str| -> (String, Vec<SqlValue>) {
        match only {
            Some(_) => (format!("{base}{one}"), vec![SqlValue::Integer(events[0].0)]),
            None => (base.to_string(), Vec::new()),
        }
    };

    let (aircraft_sql, params) = scope(sql::AIRCRAFT, sql::ONE_EVENT_AIRCRAFT);
    let mut aircraft = Vec::new();
    {
        let mut stmt = conn.prepare_cached(&format!("{aircraft_sql}{}", sql::AIRCRAFT_ORDER))?;
        let mut query = stmt.query(params_from_iter(params))?;
        while let Some(r) = query.next()? {
            aircraft.push(AircraftFacts {
                event_id: r.get(0)?,
                make: r.get(1)?,
                model: r.get(2)?,
                category: r.get(3)?,
                amateur_built: r.get(4)?,
                num_engines: r.get(5)?,
                engine_type: r.get(6)?,
                far_part: r.get(7)?,
                schedule: r.get(8)?,
                purpose: r.get(9)?,
                damage: r.get(10)?,
                phase: r.get(11)?,
            });
        }
    }

    let (pilots_sql, params) = scope(sql::PILOTS, sql::ONE_EVENT_PILOT);
    let mut pilots = Vec::new();
    {
        let mut stmt = conn.prepare_cached(&format!("{pilots_sql}{}", sql::PILOTS_ORDER))?;
        let mut query = stmt.query(params_from_iter(params))?;
        while let Some(r) = query.next()? {
            pilots.push(CrewFact {
                event_id: r.get(0)?,
                aircraft_key: r.get(1)?,
                crew_no: r.get(2)?,
                value: r.get(3)?,
            });
        }
    }

    let (hours_sql, params) = scope(sql::HOURS, sql::ONE_EVENT_HOURS);
    let mut hours = Vec::new();
    {
        let mut stmt = conn.prepare_cached(&hours_sql)?;
        let mut query = stmt.query(params_from_iter(params))?;
        while let Some(r) = query.next()? {
            hours.push(CrewFact { event_id: r.get(0)?, aircraft_key: r.get(1)?, crew_no: r.get(2)?, value: r.get(3)? });
        }
    }
    Ok(merge(events, aircraft, pilots, hours))
}

impl TrainingData for SqliteStore {
    fn training_rows(&self, filter: &TrainingFilter) -> Result<Vec<TrainingRow>> {
        let conn = self.reader()?;
        read_rows(&conn, filter, None)
    }

    fn training_row(&self, ev_id: &str) -> Result<Option<TrainingRow>> {
        let conn = self.reader()?;
        Ok(read_rows(&conn, &TrainingFilter::default(), Some(ev_id))?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn an_empty_store_has_no_training_rows() {
        let store = SqliteStore::open_in_memory().unwrap();
        store.migrate().unwrap();
        assert!(store.training_rows(&TrainingFilter { accidents_only: true }).unwrap().is_empty());
        assert_eq!(store.training_row("20080124X00101").unwrap(), None);
    }
}
