//! Unit tests of the PostgreSQL schema that need a server (`NTSB_TEST_POSTGRES_URL`;
//! skipped with a printed reason when it is unset).

use super::*;

/// A migrated store in a fresh schema, dropped afterwards.
fn with_store(test: &str, f: impl FnOnce(&PostgresStore)) {
    let Ok(url) = std::env::var("NTSB_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED {test}: set NTSB_TEST_POSTGRES_URL");
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
