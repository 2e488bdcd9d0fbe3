//! The conformance harness: every storage test runs against both backends.
//!
//! [`conformance!`] turns each test body into a `sqlite::NAME` and a
//! `postgres::NAME` test. The PostgreSQL variant reads its server from
//! `NTSB_TEST_POSTGRES_URL` and works in a fresh schema of its own (created
//! before, dropped after, even when the test fails); without the variable it
//! prints why and passes without running, like the tests of the shared corpus.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ntsb_store::postgres::{PostgresConfig, PostgresStore};
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{Backend, Store};

/// Environment variable naming the PostgreSQL server for tests.
pub const PG_ENV: &str = "NTSB_TEST_POSTGRES_URL";

/// Schema version both backends are at after migrating (the same on both; a
/// test checks it).
pub const LATEST: i64 = SqliteStore::LATEST_VERSION;

#[test]
fn both_backends_are_at_the_same_schema_version() {
    assert_eq!(SqliteStore::LATEST_VERSION, PostgresStore::LATEST_VERSION);
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// In-memory SQLite (file databases where a test needs one).
    Sqlite,
    /// A fresh schema on the server in `NTSB_TEST_POSTGRES_URL`.
    Postgres,
}

/// A store under test, with whatever must outlive it (its schema, its directory).
pub struct TestStore {
    store: Arc<dyn Backend>,
    /// Dropped after `store`, so connections close before the schema goes.
    _schema: Option<PgSchema>,
    _dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for TestStore {
    type Target = dyn Backend;

    fn deref(&self) -> &(dyn Backend + 'static) {
        self.store.as_ref()
    }
}

impl TestStore {
    /// The store, shareable between threads.
    pub fn arc(&self) -> Arc<dyn Backend> {
        Arc::clone(&self.store)
    }

    /// The store as the `Store` trait.
    pub fn as_store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}

/// Anything a test helper can take as a store: a [`TestStore`], a concrete
/// store, or a `dyn Backend`.
pub trait AsBackend {
    /// The store as both traits.
    fn backend(&self) -> &dyn Backend;
}

impl AsBackend for TestStore {
    fn backend(&self) -> &dyn Backend {
        self.store.as_ref()
    }
}

impl<T: Backend> AsBackend for T {
    fn backend(&self) -> &dyn Backend {
        self
    }
}

impl AsBackend for dyn Backend {
    fn backend(&self) -> &dyn Backend {
        self
    }
}

/// Drops its schema (and everything in it) when dropped.
pub struct PgSchema {
    url: String,
    pub name: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// The PostgreSQL URL for tests, or `None` after printing why the test is skipped.
pub fn postgres_url(test: &str) -> Option<String> {
    ntsb_test_support::postgres_url(&format!("{test} on PostgreSQL"))
}

/// A new, empty schema named after the test.
pub fn new_schema(url: &str, test: &str) -> PgSchema {
    let short: String = test.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(36).collect();
    let name =
        format!("t_{}_{}_{}", short.to_ascii_lowercase(), std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
    let mut client = postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("{PG_ENV} is set but the server cannot be reached: {e}"));
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")).expect("schema");
    PgSchema { url: url.to_string(), name }
}

/// A PostgreSQL store in a fresh schema, with `tune` applied to its settings.
pub fn postgres_store(test: &str, tune: impl FnOnce(&mut PostgresConfig)) -> Option<TestStore> {
    let url = postgres_url(test)?;
    let schema = new_schema(&url, test);
    let mut config = PostgresConfig::new(&url);
    config.schema = Some(schema.name.clone());
    config.pool_size = 4;
    tune(&mut config);
    let store = PostgresStore::connect(config).expect("connect");
    Some(TestStore { store: Arc::new(store), _schema: Some(schema), _dir: None })
}

impl Kind {
    /// An empty, unmigrated store.
    pub fn fresh(self, test: &str) -> TestStore {
        match self {
            Kind::Sqlite => {
                TestStore { store: Arc::new(SqliteStore::open_in_memory().expect("open")), _schema: None, _dir: None }
            }
            Kind::Postgres => postgres_store(test, |_| {}).expect("the macro checked the URL"),
        }
    }

    /// An empty store at the latest schema version.
    pub fn store(self, test: &str) -> TestStore {
        let s = self.fresh(test);
        s.migrate().expect("migrate");
        s
    }

    /// An unmigrated store that other connections and processes can share: a
    /// file for SQLite (with pooled readers), a schema for PostgreSQL.
    pub fn shared(self, test: &str) -> TestStore {
        match self {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let store = SqliteStore::open(&dir.path().join("ntsb.sqlite")).expect("open");
                TestStore { store: Arc::new(store), _schema: None, _dir: Some(dir) }
            }
            Kind::Postgres => self.fresh(test),
        }
    }

    /// Whether the backend can run here (prints why not).
    pub fn available(self, test: &str) -> bool {
        match self {
            Kind::Sqlite => true,
            Kind::Postgres => postgres_url(test).is_some(),
        }
    }
}

/// Generates `sqlite::NAME` and `postgres::NAME` from each `fn NAME(kind) { … }`.
#[macro_export]
macro_rules! conformance {
    ($( $(#[$meta:meta])* fn $name:ident($kind:ident) $body:block )*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    let $kind = $crate::common::Kind::Sqlite;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    let $kind = $crate::common::Kind::Postgres;
                    if !$kind.available(stringify!($name)) {
                        return;
                    }
                    $body
                }
            )*
        }
    };
}
