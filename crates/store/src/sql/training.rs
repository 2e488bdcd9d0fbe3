//! [`TrainingData`] written once for every [`SqlStore`]: the statements of
//! [`crate::training::sql`] (one per table), read in one read call and merged
//! per event by [`crate::training::merge`]. The one backend word is SQLite's
//! `INDEXED BY` for reading stored events by `ev_id` ([`Dialect::scoring_index`]).

use super::{Arg, Conn, Dialect, Row, SqlStore};
use crate::Result;
use crate::sql::conn::FromColumn;
use crate::training::{
    AircraftFacts, CrewFact, TrainingData, TrainingFilter, TrainingRow, distinct, in_order, merge, sql,
};

/// Which events to read.
#[derive(Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// Every event matching the filter.
    All(&'a TrainingFilter),
    /// One event by `ev_id`.
    One(&'a str),
    /// The events of these distinct `ev_id`s.
    Many(&'a [&'a str]),
}

fn event_row(r: &dyn Row) -> Result<(i64, TrainingRow)> {
    Ok((
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
    ))
}

fn aircraft_row(r: &dyn Row) -> Result<AircraftFacts> {
    Ok(AircraftFacts {
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
    })
}

fn crew_row<T>(r: &dyn Row) -> Result<CrewFact<T>>
where
    Option<T>: FromColumn,
{
    Ok(CrewFact { event_id: r.get(0)?, aircraft_key: r.get(1)?, crew_no: r.get(2)?, value: r.get(3)? })
}

/// The events statement of `scope` and its parameters. Stored events read by
/// `ev_id` (scoring) go through the covering index of migration 0010 on SQLite
/// (see [`Dialect::scoring_index`]) and need no order: a batch is put in the
/// order asked by `in_order`, so sorting it would only cost a temporary B-tree.
pub(crate) fn events_sql(d: Dialect, scope: Scope<'_>) -> (String, Vec<Arg>) {
    let by_ev_id = || sql::EVENTS.replacen("FROM events e ", &format!("FROM events e{} ", d.scoring_index()), 1);
    match scope {
        Scope::All(filter) if filter.accidents_only => {
            (format!("{} AND e.event_type = ? ORDER BY e.id", sql::EVENTS), vec![Arg::from("accident")])
        }
        Scope::All(_) => (format!("{} ORDER BY e.id", sql::EVENTS), Vec::new()),
        Scope::One(ev_id) => (format!("{} AND e.ev_id = ?", by_ev_id()), vec![Arg::from(ev_id)]),
        Scope::Many(ev_ids) => (
            format!("{} AND {}", by_ev_id(), d.in_list("e.ev_id")),
            vec![Arg::Texts(ev_ids.iter().map(|s| (*s).to_string()).collect())],
        ),
    }
}

/// A child table's statement restricted to the events read (none for a whole read).
pub(crate) fn child_sql(d: Dialect, scope: Scope<'_>, base: &str, one: &str, column: &str, order: &str) -> String {
    match scope {
        Scope::All(_) => format!("{base}{order}"),
        Scope::One(_) => format!("{base}{one}{order}"),
        Scope::Many(_) => format!("{base} AND {}{order}", d.in_list(column)),
    }
}

/// Reads and merges the training rows of `scope`: in store order, except a
/// batch of ids (`Scope::Many`), which its caller puts in the order asked.
fn read_rows(db: &mut dyn Conn, scope: Scope<'_>) -> Result<Vec<TrainingRow>> {
    let d = db.dialect();
    let (events_sql, params) = events_sql(d, scope);
    let events = db.query(&events_sql, &params, event_row)?;
    match scope {
        Scope::One(_) if events.len() != 1 => return Ok(Vec::new()),
        Scope::Many(_) if events.is_empty() => return Ok(Vec::new()),
        _ => {}
    }
    // One event or a batch: restrict the child tables to their internal ids.
    let bound = match scope {
        Scope::All(_) => Vec::new(),
        Scope::One(_) => vec![Arg::Int(events[0].0)],
        Scope::Many(_) => vec![Arg::Ints(events.iter().map(|(id, _)| *id).collect())],
    };
    let aircraft_sql = child_sql(d, scope, sql::AIRCRAFT, sql::ONE_EVENT_AIRCRAFT, "a.event_id", sql::AIRCRAFT_ORDER);
    let aircraft = db.query(&aircraft_sql, &bound, aircraft_row)?;
    let pilots_sql = child_sql(d, scope, sql::PILOTS, sql::ONE_EVENT_PILOT, "c.event_id", sql::PILOTS_ORDER);
    let pilots = db.query(&pilots_sql, &bound, crew_row::<i64>)?;
    let hours_sql = child_sql(d, scope, sql::HOURS, sql::ONE_EVENT_HOURS, "t.event_id", "");
    let hours = db.query(&hours_sql, &bound, crew_row::<f64>)?;
    Ok(merge(events, aircraft, pilots, hours))
}

impl<S: SqlStore> TrainingData for S {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use crate::sqlite::SqliteStore;

    /// The plan SQLite picks for `statement` (its EXPLAIN QUERY PLAN details).
    fn plan(conn: &rusqlite::Connection, statement: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {statement}")).unwrap();
        // The plan does not depend on the values bound; NULL stands in for each.
        let unbound = vec![rusqlite::types::Value::Null; stmt.parameter_count()];
        let details = stmt.query_map(rusqlite::params_from_iter(unbound), |r| r.get::<_, String>(3)).unwrap();
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
        let d = Dialect::Sqlite;
        let mut statements = Vec::new();
        for scope in [Scope::One("x"), Scope::Many(&["x", "y"])] {
            statements.push(events_sql(d, scope).0);
            statements.push(child_sql(
                d,
                scope,
                sql::AIRCRAFT,
                sql::ONE_EVENT_AIRCRAFT,
                "a.event_id",
                sql::AIRCRAFT_ORDER,
            ));
            statements.push(child_sql(d, scope, sql::PILOTS, sql::ONE_EVENT_PILOT, "c.event_id", sql::PILOTS_ORDER));
            statements.push(child_sql(d, scope, sql::HOURS, sql::ONE_EVENT_HOURS, "t.event_id", ""));
        }
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
