//! Versioned schema migrations for PostgreSQL, embedded in the binary, up and down.
//!
//! Each migration is a pair of scripts under `crates/store/migrations/postgres`,
//! one per SQLite migration with the same version and name. Applied versions are
//! tracked in `schema_migrations`. Every step (script plus bookkeeping) runs in its
//! own transaction — PostgreSQL DDL is transactional, so a failed step leaves the
//! schema at the previous version — under an advisory lock, so two processes
//! migrating at once apply each step once.

use postgres::Client;

use crate::{Error, MigrationStatus, Result};

/// One schema migration.
pub(crate) struct Migration {
    /// Version number, increasing from 1.
    pub version: i64,
    /// Short name.
    pub name: &'static str,
    /// Script that applies it.
    pub up: &'static str,
    /// Script that undoes it.
    pub down: &'static str,
}

/// Every migration, in version order.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "core",
        up: include_str!("../../migrations/postgres/0001_core.up.sql"),
        down: include_str!("../../migrations/postgres/0001_core.down.sql"),
    },
    Migration {
        version: 2,
        name: "ledger",
        up: include_str!("../../migrations/postgres/0002_ledger.up.sql"),
        down: include_str!("../../migrations/postgres/0002_ledger.down.sql"),
    },
    Migration {
        version: 3,
        name: "index_queue_meta",
        up: include_str!("../../migrations/postgres/0003_index_queue_meta.up.sql"),
        down: include_str!("../../migrations/postgres/0003_index_queue_meta.down.sql"),
    },
    Migration {
        version: 4,
        name: "query_indexes",
        up: include_str!("../../migrations/postgres/0004_query_indexes.up.sql"),
        down: include_str!("../../migrations/postgres/0004_query_indexes.down.sql"),
    },
    Migration {
        version: 5,
        name: "event_facts_first_aircraft",
        up: include_str!("../../migrations/postgres/0005_event_facts_first_aircraft.up.sql"),
        down: include_str!("../../migrations/postgres/0005_event_facts_first_aircraft.down.sql"),
    },
    Migration {
        version: 6,
        name: "accounts",
        up: include_str!("../../migrations/postgres/0006_accounts.up.sql"),
        down: include_str!("../../migrations/postgres/0006_accounts.down.sql"),
    },
    Migration {
        version: 7,
        name: "index_log",
        up: include_str!("../../migrations/postgres/0007_index_log.up.sql"),
        down: include_str!("../../migrations/postgres/0007_index_log.down.sql"),
    },
    Migration {
        version: 8,
        name: "event_documents",
        up: include_str!("../../migrations/postgres/0008_event_documents.up.sql"),
        down: include_str!("../../migrations/postgres/0008_event_documents.down.sql"),
    },
    Migration {
        version: 9,
        name: "event_documents_postgres",
        up: include_str!("../../migrations/postgres/0009_event_documents_postgres.up.sql"),
        down: include_str!("../../migrations/postgres/0009_event_documents_postgres.down.sql"),
    },
    Migration {
        version: 10,
        name: "scoring_indexes",
        up: include_str!("../../migrations/postgres/0010_scoring_indexes.up.sql"),
        down: include_str!("../../migrations/postgres/0010_scoring_indexes.down.sql"),
    },
    Migration {
        version: 12,
        name: "change_log",
        up: include_str!("../../migrations/postgres/0012_change_log.up.sql"),
        down: include_str!("../../migrations/postgres/0012_change_log.down.sql"),
    },
];

/// Advisory lock key held while migrating (any constant unique to this program).
const MIGRATION_LOCK: i64 = 0x006e_7473_626d_6967; // "ntsbmig"

const TRACKING_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
     (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

fn tracking_exists(client: &mut Client) -> Result<bool> {
    let row = client.query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?;
    Ok(row.try_get(0)?)
}

/// Highest applied version, 0 for a fresh database.
pub(crate) fn current_version(client: &mut Client) -> Result<i64> {
    if !tracking_exists(client)? {
        return Ok(0);
    }
    let v: Option<i64> = client.query_one("SELECT max(version) FROM schema_migrations", &[])?.try_get(0)?;
    Ok(v.unwrap_or(0))
}

fn applied(client: &mut Client) -> Result<Vec<(i64, String)>> {
    if !tracking_exists(client)? {
        return Ok(Vec::new());
    }
    let rows = client.query("SELECT version, applied_at FROM schema_migrations ORDER BY version", &[])?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

fn step_error(version: i64, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Migration { version, reason: format!("{what} failed: {e}") }
}

/// Applies every pending migration in order; returns the versions applied.
pub(crate) fn migrate(client: &mut Client) -> Result<Vec<i64>> {
    let mut newly = Vec::new();
    for m in MIGRATIONS {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(TRACKING_TABLE)?;
        let done: bool = tx
            .query_one("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", &[&m.version])?
            .try_get(0)?;
        if done {
            continue;
        }
        tx.batch_execute(m.up).map_err(|e| step_error(m.version, "up", pg_detail(&e)))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &chrono::Utc::now().to_rfc3339()],
        )?;
        tx.commit().map_err(|e| step_error(m.version, "commit", e))?;
        newly.push(m.version);
    }
    Ok(newly)
}

/// Rolls back the latest `steps` applied migrations; returns the versions undone.
pub(crate) fn rollback(client: &mut Client, steps: usize) -> Result<Vec<i64>> {
    let mut undone = Vec::new();
    for _ in 0..steps {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        let exists: bool = tx.query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?.try_get(0)?;
        if !exists {
            break;
        }
        let latest: Option<i64> = tx.query_one("SELECT max(version) FROM schema_migrations", &[])?.try_get(0)?;
        let Some(version) = latest else { break };
        let m = MIGRATIONS.iter().find(|m| m.version == version).ok_or_else(|| Error::Migration {
            version,
            reason: "the database has a migration this program does not know; use a newer program".into(),
        })?;
        tx.batch_execute(m.down).map_err(|e| step_error(version, "down", pg_detail(&e)))?;
        tx.execute("DELETE FROM schema_migrations WHERE version = $1", &[&version])?;
        tx.commit().map_err(|e| step_error(version, "commit", e))?;
        undone.push(version);
    }
    Ok(undone)
}

/// Every known migration with its applied time.
pub(crate) fn status(client: &mut Client) -> Result<Vec<MigrationStatus>> {
    let done = applied(client)?;
    Ok(MIGRATIONS
        .iter()
        .map(|m| MigrationStatus {
            version: m.version,
            name: m.name.to_string(),
            applied_at: done.iter().find(|(v, _)| *v == m.version).map(|(_, at)| at.clone()),
        })
        .collect())
}

/// The server's message of an error (the client's own `Display` says only "db error").
pub(crate) fn pg_detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}
