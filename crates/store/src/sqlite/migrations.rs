//! Versioned schema migrations, embedded in the binary, that go up and down.
//!
//! Each migration is a pair of SQL scripts under `crates/store/migrations/sqlite`.
//! Applied versions are tracked in `schema_migrations`; every step (script plus
//! bookkeeping) runs in its own transaction, so a failed step leaves the schema at
//! the previous version.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

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
        up: include_str!("../../migrations/sqlite/0001_core.up.sql"),
        down: include_str!("../../migrations/sqlite/0001_core.down.sql"),
    },
    Migration {
        version: 2,
        name: "ledger",
        up: include_str!("../../migrations/sqlite/0002_ledger.up.sql"),
        down: include_str!("../../migrations/sqlite/0002_ledger.down.sql"),
    },
    Migration {
        version: 3,
        name: "index_queue_meta",
        up: include_str!("../../migrations/sqlite/0003_index_queue_meta.up.sql"),
        down: include_str!("../../migrations/sqlite/0003_index_queue_meta.down.sql"),
    },
    Migration {
        version: 4,
        name: "query_indexes",
        up: include_str!("../../migrations/sqlite/0004_query_indexes.up.sql"),
        down: include_str!("../../migrations/sqlite/0004_query_indexes.down.sql"),
    },
    Migration {
        version: 5,
        name: "event_facts_first_aircraft",
        up: include_str!("../../migrations/sqlite/0005_event_facts_first_aircraft.up.sql"),
        down: include_str!("../../migrations/sqlite/0005_event_facts_first_aircraft.down.sql"),
    },
    Migration {
        version: 6,
        name: "accounts",
        up: include_str!("../../migrations/sqlite/0006_accounts.up.sql"),
        down: include_str!("../../migrations/sqlite/0006_accounts.down.sql"),
    },
    Migration {
        version: 7,
        name: "index_log",
        up: include_str!("../../migrations/sqlite/0007_index_log.up.sql"),
        down: include_str!("../../migrations/sqlite/0007_index_log.down.sql"),
    },
    Migration {
        version: 8,
        name: "event_documents",
        up: include_str!("../../migrations/sqlite/0008_event_documents.up.sql"),
        down: include_str!("../../migrations/sqlite/0008_event_documents.down.sql"),
    },
    Migration {
        version: 9,
        name: "event_documents_postgres",
        up: include_str!("../../migrations/sqlite/0009_event_documents_postgres.up.sql"),
        down: include_str!("../../migrations/sqlite/0009_event_documents_postgres.down.sql"),
    },
    Migration {
        version: 10,
        name: "scoring_indexes",
        up: include_str!("../../migrations/sqlite/0010_scoring_indexes.up.sql"),
        down: include_str!("../../migrations/sqlite/0010_scoring_indexes.down.sql"),
    },
    Migration {
        version: 12,
        name: "change_log",
        up: include_str!("../../migrations/sqlite/0012_change_log.up.sql"),
        down: include_str!("../../migrations/sqlite/0012_change_log.down.sql"),
    },
];

const TRACKING_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

fn tracking_exists(conn: &Connection) -> Result<bool> {
    let found: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(found.is_some())
}

/// Highest applied version, 0 for a fresh database.
pub(crate) fn current_version(conn: &Connection) -> Result<i64> {
    if !tracking_exists(conn)? {
        return Ok(0);
    }
    let v: Option<i64> =
        conn.prepare_cached("SELECT max(version) FROM schema_migrations")?.query_row([], |r| r.get(0))?;
    Ok(v.unwrap_or(0))
}

fn applied(conn: &Connection) -> Result<Vec<(i64, String)>> {
    if !tracking_exists(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached("SELECT version, applied_at FROM schema_migrations ORDER BY version")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn step_error(version: i64, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Migration { version, reason: format!("{what} failed: {e}") }
}

/// Applies every pending migration in order; returns the versions applied.
pub(crate) fn migrate(conn: &mut Connection) -> Result<Vec<i64>> {
    conn.execute_batch(TRACKING_TABLE)?;
    let done: Vec<i64> = applied(conn)?.into_iter().map(|(v, _)| v).collect();
    let mut newly = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(m.up).map_err(|e| step_error(m.version, "up", e))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![m.version, m.name, chrono::Utc::now().to_rfc3339()],
        )?;
        tx.commit().map_err(|e| step_error(m.version, "commit", e))?;
        newly.push(m.version);
    }
    Ok(newly)
}

/// Rolls back the latest `steps` applied migrations; returns the versions undone.
pub(crate) fn rollback(conn: &mut Connection, steps: usize) -> Result<Vec<i64>> {
    let mut done: Vec<i64> = applied(conn)?.into_iter().map(|(v, _)| v).collect();
    done.reverse();
    let mut undone = Vec::new();
    for version in done.into_iter().take(steps) {
        let m = MIGRATIONS.iter().find(|m| m.version == version).ok_or_else(|| Error::Migration {
            version,
            reason: "the database has a migration this program does not know; use a newer program".into(),
        })?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(m.down).map_err(|e| step_error(version, "down", e))?;
        tx.execute("DELETE FROM schema_migrations WHERE version = ?1", [version])?;
        tx.commit().map_err(|e| step_error(version, "commit", e))?;
        undone.push(version);
    }
    Ok(undone)
}

/// Every known migration with its applied time.
pub(crate) fn status(conn: &Connection) -> Result<Vec<MigrationStatus>> {
    let done = applied(conn)?;
    Ok(MIGRATIONS
        .iter()
        .map(|m| MigrationStatus {
            version: m.version,
            name: m.name.to_string(),
            applied_at: done.iter().find(|(v, _)| *v == m.version).map(|(_, at)| at.clone()),
        })
        .collect())
}
