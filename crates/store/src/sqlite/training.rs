//! [`TrainingData`] for [`SqliteStore`]: plain, portable `SELECT`s (one per table),
//! merged per event in Rust, so the PostgreSQL backend can run the same text.

use std::collections::HashMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use super::SqliteStore;
use crate::Result;
use crate::training::{TrainingData, TrainingFilter, TrainingRow, damage_rank};

const EVENTS_SQL: &str = "SELECT e.id, e.ev_id, e.event_type, e.event_date, e.state, e.country, e.latitude, \
     e.longitude, e.airport_code, e.light_condition, e.weather, e.phase, e.highest_injury, e.inj_fatal, \
     e.inj_serious, e.inj_minor, e.inj_none FROM events e WHERE e.ev_id IS NOT NULL";

const AIRCRAFT_SQL: &str = "SELECT a.event_id, a.make, a.model, a.category, a.amateur_built, a.num_engines, \
     a.engine_type, a.far_part, a.schedule, a.purpose, a.damage, a.phase FROM aircraft a";

const PILOTS_SQL: &str = "SELECT c.event_id, c.aircraft_key, c.crew_no, c.crew_age FROM flight_crew c \
     WHERE c.crew_category = 'PLT'";

const HOURS_SQL: &str = "SELECT t.event_id, t.aircraft_key, t.crew_no, t.flight_hours FROM flight_time t \
     WHERE t.flight_type = 'TOTL' AND t.flight_craft = 'ALL'";

/// Reads training rows, all of them or those of one event (`only`: internal id).
fn read_rows(conn: &Connection, filter: &TrainingFilter, only: Option<&str>) -> Result<Vec<TrainingRow>> {
    let mut sql = EVENTS_SQL.to_string();
    let mut params: Vec<SqlValue> = Vec::new();
    if filter.accidents_only {
        sql.push_str(" AND e.event_type = ?");
        params.push(SqlValue::Text("accident".into()));
    }
    if let Some(ev_id) = only {
        sql.push_str(" AND e.ev_id = ?");
        params.push(SqlValue::Text(ev_id.to_string()));
    }
    sql.push_str(" ORDER BY e.id");
    let mut stmt = conn.prepare(&sql)?;
    let mut ids: Vec<i64> = Vec::new();
    let mut rows: Vec<TrainingRow> = Vec::new();
    let mut query = stmt.query(params_from_iter(params))?;
    while let Some(r) = query.next()? {
        ids.push(r.get(0)?);
        rows.push(TrainingRow {
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
        });
    }
    drop(query);
    let position: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let scope = |base: &str, alias: &str| match only {
        Some(_) if ids.len() == 1 => (format!("{base} AND {alias}.event_id = ?"), vec![SqlValue::Integer(ids[0])]),
        Some(_) => (format!("{base} AND 1 = 0"), Vec::new()),
        None => (base.to_string(), Vec::new()),
    };

    // Aircraft: first (lowest key) gives the aircraft facts; damage is the worst.
    let (sql, params) = scope(&format!("{AIRCRAFT_SQL} WHERE 1 = 1"), "a");
    let sql = format!("{sql} ORDER BY a.event_id, a.aircraft_key");
    let mut stmt = conn.prepare(&sql)?;
    let mut query = stmt.query(params_from_iter(params))?;
    while let Some(r) = query.next()? {
        let Some(&i) = position.get(&r.get::<_, i64>(0)?) else { continue };
        let row = &mut rows[i];
        let damage: Option<String> = r.get(10)?;
        if let Some(d) = damage {
            let worse = row.damage.as_deref().is_none_or(|cur| damage_rank(&d) > damage_rank(cur));
            if worse {
                row.damage = Some(d);
            }
        }
        row.aircraft_count += 1;
        if row.aircraft_count > 1 {
            continue;
        }
        row.make = r.get(1)?;
        row.model = r.get(2)?;
        row.category = r.get(3)?;
        row.amateur_built = r.get(4)?;
        row.num_engines = r.get(5)?;
        row.engine_type = r.get(6)?;
        row.far_part = r.get(7)?;
        row.schedule = r.get(8)?;
        row.purpose = r.get(9)?;
        if row.phase.is_none() {
            row.phase = r.get(11)?;
        }
    }
    drop(query);

    // Pilots: the first pilot (lowest aircraft, then crew number) of each event.
    let (sql, params) = scope(PILOTS_SQL, "c");
    let sql = format!("{sql} ORDER BY c.event_id, c.aircraft_key, c.crew_no");
    let mut first_pilot: HashMap<i64, (i64, i64)> = HashMap::new();
    let mut stmt = conn.prepare(&sql)?;
    let mut query = stmt.query(params_from_iter(params))?;
    while let Some(r) = query.next()? {
        let event: i64 = r.get(0)?;
        let Some(&i) = position.get(&event) else { continue };
        if first_pilot.contains_key(&event) {
            continue;
        }
        first_pilot.insert(event, (r.get(1)?, r.get(2)?));
        rows[i].pilot_age = r.get(3)?;
    }
    drop(query);

    let (sql, params) = scope(HOURS_SQL, "t");
    let mut stmt = conn.prepare(&sql)?;
    let mut query = stmt.query(params_from_iter(params))?;
    while let Some(r) = query.next()? {
        let event: i64 = r.get(0)?;
        let (Some(&i), Some(&pilot)) = (position.get(&event), first_pilot.get(&event)) else { continue };
        if (r.get::<_, i64>(1)?, r.get::<_, i64>(2)?) == pilot {
            rows[i].pilot_total_hours = r.get(3)?;
        }
    }
    Ok(rows)
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
