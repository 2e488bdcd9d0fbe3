//! [`TrainingData`] for [`SqliteStore`]: the portable `SELECT`s of
//! [`crate::training::sql`] (one per table), merged per event by
//! [`crate::training::merge`], exactly as the PostgreSQL backend does. The one
//! SQLite-only word is the index named for reading events by `ev_id`
//! ([`events_by_ev_id`]).

use std::borrow::Cow;
use std::sync::LazyLock;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use super::SqliteStore;
use crate::Result;
use crate::training::{
    AircraftFacts, CrewFact, TrainingData, TrainingFilter, TrainingRow, distinct, in_order, merge, sql,
};

/// Restricts the events query to one `ev_id`.
const ONE_EVENT: &str = " AND e.ev_id = ?";
/// Restricts the events query to a batch of `ev_id`s, given as one JSON array
/// (one bound value and one cached statement whatever the batch's size).
const MANY_EVENTS: &str = " AND e.ev_id IN (SELECT value FROM json_each(?))";

/// [`sql::EVENTS`] read through the covering index of migration 0010, for
/// scoring stored events. Left to itself SQLite picks the unique index on
/// `ev_id` (one row per id) and then seeks the table for the other columns;
/// `INDEXED BY` also turns a dropped or renamed index into an error instead of
/// a slower plan. (Whole reads, for training, are left to the planner.)
fn events_by_ev_id(restriction: &str) -> String {
    let through_index = sql::EVENTS.replacen("FROM events e ", "FROM events e INDEXED BY events_scoring ", 1);
    format!("{through_index}{restriction}")
}
/// The events statement of one stored event; see [`events_by_ev_id`].
static ONE_EVENT_SQL: LazyLock<String> = LazyLock::new(|| events_by_ev_id(ONE_EVENT));
/// The events statement of a batch; see [`events_by_ev_id`].
static MANY_EVENTS_SQL: LazyLock<String> = LazyLock::new(|| events_by_ev_id(MANY_EVENTS));
/// Restricts a child table to a batch of internal event ids (a JSON array).
const MANY_AIRCRAFT: &str = " AND a.event_id IN (SELECT value FROM json_each(?))";
/// See [`MANY_AIRCRAFT`].
const MANY_PILOTS: &str = " AND c.event_id IN (SELECT value FROM json_each(?))";
/// See [`MANY_AIRCRAFT`].
const MANY_HOURS: &str = " AND t.event_id IN (SELECT value FROM json_each(?))";

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

/// Reads and merges the training rows of `scope`: in store order, except a
/// batch of ids (`Scope::Many`), which its caller puts in the order asked.
fn read_rows(conn: &Connection, scope: Scope<'_>) -> Result<Vec<TrainingRow>> {
    let mut params: Vec<SqlValue> = Vec::new();
    let query_sql: Cow<'static, str> = match scope {
        Scope::All(filter) => {
            let mut all = sql::EVENTS.to_string();
            if filter.accidents_only {
                all.push_str(" AND e.event_type = ?");
                params.push(SqlValue::Text("accident".into()));
            }
            // Store order for whole reads. A batch is put in the order asked by
            // `in_order`, so sorting it here would only cost a temporary B-tree.
            all.push_str(" ORDER BY e.id");
            all.into()
        }
        Scope::One(ev_id) => {
            params.push(SqlValue::Text(ev_id.to_string()));
            ONE_EVENT_SQL.as_str().into()
        }
        Scope::Many(ev_ids) => {
            params.push(SqlValue::Text(serde_json::Value::from(ev_ids.to_vec()).to_string()));
            MANY_EVENTS_SQL.as_str().into()
        }
    };
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
                    airport_name: r.get(17)?,
                    ..TrainingRow::default()
                },
            ));
        }
    }
    match scope {
        Scope::One(_) if events.len() != 1 => return Ok(Vec::new()),
        Scope::Many(_) if events.is_empty() => return Ok(Vec::new()),
        _ => {}
    }
    // One event or a batch: restrict the child tables to their internal ids.
    let restricted = |base: &str, one: &str, many: &str| -> (String, Vec<SqlValue>) {
        match scope {
            Scope::All(_) => (base.to_string(), Vec::new()),
            Scope::One(_) => (format!("{base}{one}"), vec![SqlValue::Integer(events[0].0)]),
            Scope::Many(_) => {
                let ids: Vec<i64> = events.iter().map(|(id, _)| *id).collect();
                (format!("{base}{many}"), vec![SqlValue::Text(serde_json::Value::from(ids).to_string())])
            }
        }
    };

    let (aircraft_sql, params) = restricted(sql::AIRCRAFT, sql::ONE_EVENT_AIRCRAFT, MANY_AIRCRAFT);
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

    let (pilots_sql, params) = restricted(sql::PILOTS, sql::ONE_EVENT_PILOT, MANY_PILOTS);
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

    let (hours_sql, params) = restricted(sql::HOURS, sql::ONE_EVENT_HOURS, MANY_HOURS);
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
        read_rows(&conn, Scope::All(filter))
    }

    fn training_row(&self, ev_id: &str) -> Result<Option<TrainingRow>> {
        let conn = self.reader()?;
        Ok(read_rows(&conn, Scope::One(ev_id))?.into_iter().next())
    }

    fn training_rows_by_ids(&self, ev_ids: &[&str]) -> Result<Vec<Option<TrainingRow>>> {
        if ev_ids.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.reader()?;
        Ok(in_order(ev_ids, read_rows(&conn, Scope::Many(&distinct(ev_ids)))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    /// The plan SQLite picks for `statement` (its EXPLAIN QUERY PLAN details).
    fn plan(conn: &Connection, statement: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {statement}")).unwrap();
        // The plan does not depend on the values bound; NULL stands in for each.
        let unbound = vec![SqlValue::Null; stmt.parameter_count()];
        let details = stmt.query_map(params_from_iter(unbound), |r| r.get::<_, String>(3)).unwrap();
        details.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn scoring_reads_each_table_from_a_covering_index_alone() {
        // Migration 0010 indexes every column these statements read; a column
        // added to a statement but not to its index brings back a table seek per
        // row (and a sort), which this test catches.
        let store = SqliteStore::open_in_memory().unwrap();
        store.migrate().unwrap();
        let conn = store.reader().unwrap();
        let statements = [
            ONE_EVENT_SQL.clone(),
            MANY_EVENTS_SQL.clone(),
            format!("{}{}{}", sql::AIRCRAFT, sql::ONE_EVENT_AIRCRAFT, sql::AIRCRAFT_ORDER),
            format!("{}{MANY_AIRCRAFT}{}", sql::AIRCRAFT, sql::AIRCRAFT_ORDER),
            format!("{}{}{}", sql::PILOTS, sql::ONE_EVENT_PILOT, sql::PILOTS_ORDER),
            format!("{}{MANY_PILOTS}{}", sql::PILOTS, sql::PILOTS_ORDER),
            format!("{}{}", sql::HOURS, sql::ONE_EVENT_HOURS),
            format!("{}{MANY_HOURS}", sql::HOURS),
        ];
        for statement in statements {
            let plan = plan(&conn, &statement);
            assert!(plan.contains("USING COVERING INDEX") && plan.contains("_scoring"), "{statement}\n{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{statement}\n{plan}");
        }
    }

    #[test]
    fn an_empty_store_has_no_training_rows() {
        let store = SqliteStore::open_in_memory().unwrap();
        store.migrate().unwrap();
        assert!(store.training_rows(&TrainingFilter { accidents_only: true }).unwrap().is_empty());
        assert_eq!(store.training_row("20080124X00101").unwrap(), None);
        assert_eq!(store.training_rows_by_ids(&["20080124X00101"]).unwrap(), vec![None]);
        assert!(store.training_rows_by_ids(&[]).unwrap().is_empty());
    }
}
