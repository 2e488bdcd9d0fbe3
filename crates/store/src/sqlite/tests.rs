//! Unit tests of the SQLite schema and write path that need the raw connection.

use ntsb_model::records::{EventRecord, NarrativeRecord, Record, SourcedRecord};
use ntsb_model::{SourceKind, Value};

use super::*;

fn migrated() -> SqliteStore {
    let store = SqliteStore::open_in_memory().expect("open");
    store.migrate().expect("migrate");
    store
}

fn table_columns(conn: &Connection, table: &str) -> Vec<(String, String, bool)> {
    let mut stmt = conn.prepare("SELECT name, type, \"notnull\" FROM pragma_table_info(?1)").expect("prepare");
    let rows = stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).expect("query");
    rows.collect::<rusqlite::Result<_>>().expect("rows")
}

#[test]
fn every_spec_column_exists_in_its_table() {
    let store = migrated();
    let conn = store.lock();
    for spec in Record::ALL_SPECS {
        let cols = table_columns(&conn, spec.name);
        assert!(!cols.is_empty(), "table {} is missing", spec.name);
        let has = |c: &str| cols.iter().any(|(n, _, _)| n == c);
        for c in spec.key_columns.iter().chain(spec.columns) {
            assert!(has(c), "{}.{} is in the spec but not in the schema", spec.name, c);
        }
        assert!(has("field_sources"), "{} has no field_sources", spec.name);
        if spec.child_of_event {
            assert!(has("event_id") && has("id"), "{} lacks id/event_id", spec.name);
            for k in spec.key_columns {
                let notnull = cols.iter().any(|(n, _, nn)| n == k && *nn);
                assert!(notnull, "{}.{} is a key column and must be NOT NULL", spec.name, k);
            }
        }
        // Nothing in the table that the spec does not know about, besides bookkeeping.
        for (name, _, _) in &cols {
            let known = spec.key_columns.contains(&name.as_str())
                || spec.columns.contains(&name.as_str())
                || ["id", "event_id", "field_sources", "created_load", "updated_load"].contains(&name.as_str());
            assert!(known, "{}.{} is not in the spec", spec.name, name);
        }
    }
}

#[test]
fn declared_column_types_match_the_values_records_produce() {
    // A record with every field set tells which SQL type each column must have.
    let event = Record::Event(EventRecord {
        ev_id: Some("x".into()),
        ntsb_no: Some("x".into()),
        latitude: Some(1.5),
        longitude: Some(1.5),
        inj_fatal: Some(1),
        inj_serious: Some(1),
        inj_minor: Some(1),
        inj_none: Some(1),
        carol_mkey: Some(1),
        has_safety_rec: Some(true),
        synthetic: Some(true),
        ..Default::default()
    });
    let store = migrated();
    let conn = store.lock();
    let parts = event.into_parts();
    let cols = table_columns(&conn, "events");
    for (name, value) in parts.spec.columns.iter().zip(&parts.values) {
        let declared = cols.iter().find(|(n, _, _)| n == name).map(|(_, t, _)| t.clone()).unwrap_or_default();
        match value {
            Value::Int(_) => assert_eq!(declared, "INTEGER", "events.{name}"),
            Value::Real(_) => assert_eq!(declared, "REAL", "events.{name}"),
            _ => assert_eq!(declared, "TEXT", "events.{name}"),
        }
    }
}

#[test]
fn latest_version_is_the_last_migration() {
    assert_eq!(migrations::MIGRATIONS.last().map(|m| m.version), Some(SqliteStore::LATEST_VERSION));
    let versions: Vec<i64> = migrations::MIGRATIONS.iter().map(|m| m.version).collect();
    // Increasing; a number may be left free for a migration another branch adds.
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
}

#[test]
fn statements_derived_from_specs_prepare() {
    let store = migrated();
    let conn = store.lock();
    for t in store.tables.values() {
        for sql in t.all_sql() {
            conn.prepare(sql).unwrap_or_else(|e| panic!("{}: {sql}: {e}", t.spec.name));
        }
    }
}

#[test]
fn reloading_unchanged_records_writes_nothing_to_the_database() {
    let store = migrated();
    let load = store
        .begin_load(&LoadSource { path: "a.csv".into(), format: "avall".into(), checksum: "0".into(), bytes: 1 })
        .expect("load");
    let batch = || {
        vec![
            SourcedRecord {
                line: 2,
                record: Record::Event(EventRecord {
                    ev_id: Some("20080101X00001".into()),
                    ntsb_no: Some("NYC08CA001".into()),
                    latitude: Some(40.1234567),
                    event_date: Some("2008-01-01".into()),
                    ..Default::default()
                }),
            },
            SourcedRecord {
                line: 3,
                record: Record::Narrative(NarrativeRecord {
                    event: ntsb_model::records::EventRef::EvId("20080101X00001".into()),
                    aircraft_key: 0,
                    narrative: Some("text".into()),
                    ..Default::default()
                }),
            },
        ]
    };
    store.write_batch(load, SourceKind::Avall, "a.csv", batch()).expect("first");
    let before = store.lock().total_changes();
    let out = store.write_batch(load, SourceKind::Avall, "a.csv", batch()).expect("second");
    assert_eq!(store.lock().total_changes(), before, "an unchanged batch must not write");
    assert_eq!(out.tables["events"].unchanged, 1);
    assert_eq!(out.tables["narratives"].unchanged, 1);
}
