//! Unit tests of the PostgreSQL schema that need a server (`NTSB_TEST_POSTGRES_URL`;
//! skipped with a printed reason when it is unset).

use super::*;
use crate::Queries;

/// A migrated store in a fresh schema, dropped afterwards.
fn with_store(test: &str, f: impl FnOnce(&PostgresStore)) {
    let Some(url) = ntsb_test_support::postgres_url(test) else {
        return;
    };
    let schema = format!("u_{test}_{}", std::process::id());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).expect("schema");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut config = PostgresConfig::new(&url);
        config.schema = Some(schema.clone());
        let store = PostgresStore::connect(config).expect("store");
        store.migrate().expect("migrate");
        f(&store);
    }));
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).expect("drop");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn every_derived_statement_prepares_against_the_schema() {
    with_store("prepare", |store| {
        store
            .with_connection(|client| {
                for t in store.tables.values() {
                    for sql in t.all_sql() {
                        client.prepare(&sql::numbered(sql)).unwrap_or_else(|e| panic!("{sql}: {e}"));
                    }
                }
                Ok(())
            })
            .expect("connection");
    });
}

#[test]
fn every_spec_column_exists_with_the_type_sqlite_declares() {
    with_store("columns", |store| {
        store
            .with_connection(|client| {
                for spec in Record::ALL_SPECS {
                    let rows = client.query(
                        "SELECT column_name::text, data_type::text FROM information_schema.columns \
                         WHERE table_schema = current_schema() AND table_name = $1",
                        &[&spec.name],
                    )?;
                    let cols: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
                    for c in spec.key_columns.iter().chain(spec.columns) {
                        assert!(cols.iter().any(|(n, _)| n == c), "{}.{c} is missing", spec.name);
                    }
                    for (name, ty) in &cols {
                        assert!(
                            ["bigint", "double precision", "text"].contains(&ty.as_str()),
                            "{}.{name} has type {ty}",
                            spec.name
                        );
                    }
                }
                Ok(())
            })
            .expect("connection");
    });
}

#[test]
fn passwords_are_redacted_from_urls() {
    assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
    assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(redact("postgresql://h/db?x=1"), "postgresql://h/db?x=1");
    assert_eq!(redact("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
}

#[test]
fn documents_wait_for_no_writer_and_follow_every_change() {
    with_store("documents", |store| {
        let exec = |sql: &str| store.with_connection(|c| Ok(c.batch_execute(sql)?)).expect(sql);
        let documents = || -> i64 {
            store
                .with_connection(|c| Ok(c.query_one("SELECT count(*) FROM event_documents", &[])?.get(0)))
                .expect("count")
        };
        exec(
            "INSERT INTO events (ev_id, ntsb_no, event_date, city) VALUES ('E1', 'N1', '2001-02-03', 'A'), ('E2', 'N2', '2001-02-04', 'B')",
        );

        // A writer in this schema holds the lock: nothing is built, nothing waits.
        let mut writer = store.config.client_config().expect("config").connect(postgres::NoTls).expect("connect");
        let mut tx = writer.transaction().expect("tx");
        tx.execute(&sql::numbered(TAKE_WRITE_LOCK), &[&WRITE_LOCK]).expect("lock");
        assert_eq!(store.build_documents(10).expect("build"), 0);
        tx.rollback().expect("rollback");

        assert_eq!(store.build_documents(1).expect("build"), 1, "a batch at a time");
        assert_eq!(store.build_documents(10).expect("build"), 1);
        assert_eq!(store.build_documents(10).expect("build"), 0);
        assert_eq!(documents(), 2);
        let body = store.event_detail_json("E1").expect("document").expect("E1");
        assert!(String::from_utf8_lossy(&body).contains("\"city\":\"A\""), "{}", String::from_utf8_lossy(&body));

        // Statement triggers forget exactly the documents of the events a statement touched.
        exec("UPDATE events SET city = 'C' WHERE ev_id = 'E1'");
        assert_eq!(documents(), 1);
        let body = store.event_detail_json("E1").expect("computed").expect("E1");
        assert!(String::from_utf8_lossy(&body).contains("\"city\":\"C\""));
        exec("INSERT INTO aircraft (event_id, aircraft_key) SELECT id, 1 FROM events WHERE ev_id = 'E2'");
        assert_eq!(documents(), 0);
        assert_eq!(store.build_documents(10).expect("build"), 2);
        exec("DELETE FROM aircraft");
        assert_eq!(documents(), 1, "E2's document went with its aircraft");
        exec("DELETE FROM events WHERE ev_id = 'E1'");
        assert_eq!(documents(), 0);
    });
}
