//! The embedded SQLite implementation of [`Store`].
//!
//! One file holds everything: the record tables (one per
//! [`ntsb_model::records::TableSpec`]), the load ledger, the revision history and
//! the search-index queue. The connection runs in WAL mode so readers (the CLI, a
//! server) never block the loader, and every batch is one `BEGIN IMMEDIATE`
//! transaction so a killed load leaves the file consistent.
//!
//! The schema is created and evolved only by explicit migrations
//! ([`Store::migrate`], [`Store::rollback`]); opening a file never changes it.

mod backup;
mod migrations;
mod query;
mod upsert;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ntsb_model::SourceKind;
use ntsb_model::records::{Record, Reject, SourcedRecord};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, TransactionBehavior};

use crate::sql::conn::Lite;
use crate::sql::{SqlStore, ledger};
use crate::{
    BatchOutcome, Error, IndexChange, LoadEntry, LoadId, LoadSource, LoadSummary, MigrationStatus, PoolStatus, Result,
    Revision, Store, StoreStats, TableChecksum,
};
use upsert::{Batch, TableSql};

/// How long a writer waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Statements kept prepared per connection (three per table plus the rest).
const STATEMENT_CACHE: usize = 256;

/// How much of the database file a reader maps into memory instead of copying
/// pages in with `pread`: the whole of any store this project makes (the full
/// corpus is under 1 GiB). Readers then share the operating system's page cache
/// instead of each copying pages into its own small cache; a batch of 100
/// predictions spent a tenth of its CPU in those copies. Readers only: the
/// writer keeps ordinary I/O. Nothing else writes the file, and no command
/// shrinks it (no VACUUM), which is what makes a mapping unsafe.
const READER_MMAP_BYTES: i64 = 1 << 30;

/// Fixes a connection's query plans at preparation (SQLite's query planner
/// stability guarantee). Without it, a cached statement whose plan *might*
/// depend on a bound value is compiled again on every new binding: measured on
/// the event detail endpoint, 41% of the server's CPU went to re-parsing SQL.
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

/// A [`Store`] in one SQLite file (or in memory, for tests).
///
/// The connection sits behind a mutex, so one store can be shared between threads
/// as `Arc<dyn Store>`; SQLite serialises writers anyway.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Idle read-only connections for queries (file databases only), so reads
    /// run in parallel with each other and with a load (WAL).
    readers: Option<ReaderPool>,
    tables: HashMap<&'static str, TableSql>,
    /// Answers [`Store::data_version`] for file databases: its `PRAGMA
    /// data_version` moves whenever any other connection (ours or another
    /// process's) commits. Separate so probing never waits for a running load.
    probe: Option<Mutex<Connection>>,
    /// Commits made through `conn`, for in-memory databases (no probe there).
    commits: AtomicU64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Schema version this program reads and writes: the last migration.
    pub const LATEST_VERSION: i64 = 15;

    /// Opens (creating if needed) the database file at `path` and its parent
    /// directories, in WAL mode with foreign keys enforced. Does not migrate: call
    /// [`Store::migrate`] first on a new file.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| Error::Io { path: parent.display().to_string(), source })?;
        }
        let conn = Connection::open(path)?;
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Config {
                url: path.display().to_string(),
                reason: format!("the file system does not support WAL journaling (journal mode is {mode})"),
            });
        }
        let mut store = Self::configure(conn)?;
        store.readers = Some(ReaderPool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            in_use: AtomicU64::new(0),
            schema_changes: AtomicU64::new(0),
        });
        let probe = Connection::open(path)?;
        probe.busy_timeout(BUSY_TIMEOUT)?;
        probe.pragma_update(None, "query_only", "ON")?;
        store.probe = Some(Mutex::new(probe));
        Ok(store)
    }

    /// Opens a private, empty in-memory database (not migrated).
    pub fn open_in_memory() -> Result<SqliteStore> {
        Self::configure(Connection::open_in_memory()?)
    }

    /// A connection for read-only queries: a pooled one for file databases,
    /// the main connection for in-memory ones. Fails if the schema is old.
    pub(crate) fn reader(&self) -> Result<Reader<'_>> {
        let Some(pool) = &self.readers else { return Ok(Reader::Main(self.ready()?)) };
        let idle = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = Connection::open(&pool.path)?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                conn.pragma_update(None, "query_only", "ON")?;
                conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
                stable_plans(&conn)?;
                conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                PooledConnection { conn, checked_at: None }
            }
        };
        // The schema is checked once per connection and again after this
        // process migrated or rolled back, not on every read.
        let schema = pool.schema_changes.load(Ordering::Acquire);
        if conn.checked_at != Some(schema) {
            let found = migrations::current_version(&conn.conn)?;
            if found < Self::LATEST_VERSION {
                return Err(Error::SchemaOutOfDate { found, needed: Self::LATEST_VERSION });
            }
        }
        pool.in_use.fetch_add(1, Ordering::Relaxed);
        Ok(Reader::Pooled { conn: Some(PooledConnection { checked_at: Some(schema), ..conn }), pool })
    }

    /// Pooled readers check the schema version again before their next use.
    fn schema_changed(&self) {
        if let Some(pool) = &self.readers {
            pool.schema_changes.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn configure(conn: Connection) -> Result<SqliteStore> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        stable_plans(&conn)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            readers: None,
            tables: upsert::all_tables(),
            probe: None,
            commits: AtomicU64::new(0),
        })
    }

    /// Notes a commit made through the main connection (see [`Store::data_version`]).
    fn committed(&self) {
        self.commits.fetch_add(1, Ordering::Relaxed);
    }

    /// Highest applied migration version (0 for a new file).
    pub fn current_version(&self) -> Result<i64> {
        migrations::current_version(&self.lock())
    }

    /// The connection. A panic while it was held leaves no open transaction
    /// (transactions roll back on drop), so a poisoned lock is safe to reuse.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The connection, provided the schema is up to date.
    fn ready(&self) -> Result<MutexGuard<'_, Connection>> {
        let conn = self.lock();
        let found = migrations::current_version(&conn)?;
        if found < Self::LATEST_VERSION {
            return Err(Error::SchemaOutOfDate { found, needed: Self::LATEST_VERSION });
        }
        Ok(conn)
    }
}

/// Idle read-only connections to one database file.
pub(crate) struct ReaderPool {
    path: std::path::PathBuf,
    idle: Mutex<Vec<PooledConnection>>,
    /// Connections lent out now.
    in_use: AtomicU64,
    /// Migrations and rollbacks run by this process: a connection checked
    /// before the latest one checks the schema version again.
    schema_changes: AtomicU64,
}

/// A read-only connection and when its schema was last checked.
pub(crate) struct PooledConnection {
    conn: Connection,
    /// [`ReaderPool::schema_changes`] at the last check (`None`: never checked).
    checked_at: Option<u64>,
}

/// Idle connections kept for reuse; more are opened under load and closed after.
const MAX_IDLE_READERS: usize = 8;

/// A connection lent for reading; a pooled one goes back to the pool on drop.
pub(crate) enum Reader<'a> {
    /// The store's only connection (in-memory databases).
    Main(MutexGuard<'a, Connection>),
    /// A read-only connection from the pool.
    Pooled { conn: Option<PooledConnection>, pool: &'a ReaderPool },
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Reader::Main(guard) => guard,
            // `conn` is only taken in `drop`.
            Reader::Pooled { conn, .. } => &conn.as_ref().expect("a lent connection is present until dropped").conn,
        }
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Reader::Pooled { conn, pool } = self
            && let Some(conn) = conn.take()
        {
            pool.in_use.fetch_sub(1, Ordering::Relaxed);
            let mut idle = pool.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl crate::sql::SqlStore for SqliteStore {
    fn dialect(&self) -> crate::sql::Dialect {
        crate::sql::Dialect::Sqlite
    }

    fn read<T>(&self, mut f: impl FnMut(&mut dyn crate::sql::Conn) -> Result<T>) -> Result<T> {
        let conn = self.reader()?;
        f(&mut crate::sql::conn::Lite(&conn))
    }

    fn write<T>(&self, mut f: impl FnMut(&mut dyn crate::sql::Conn) -> Result<T>) -> Result<T> {
        let mut conn = self.ready()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&mut crate::sql::conn::Lite(&tx))?;
        tx.commit()?;
        Ok(value)
    }

    fn write_data<T>(&self, f: impl FnMut(&mut dyn crate::sql::Conn) -> Result<T>) -> Result<T> {
        let value = self.write(f)?;
        self.committed();
        Ok(value)
    }
}

impl Store for SqliteStore {
    fn migrate(&self) -> Result<Vec<i64>> {
        let applied = migrations::migrate(&mut self.lock());
        self.committed();
        self.schema_changed();
        applied
    }

    fn rollback(&self, steps: usize) -> Result<Vec<i64>> {
        let undone = migrations::rollback(&mut self.lock(), steps);
        self.committed();
        self.schema_changed();
        undone
    }

    fn build_documents(&self, limit: usize) -> Result<usize> {
        let mut conn = self.ready()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let built = query::build_documents(&tx, limit)?;
        tx.commit()?;
        drop(conn);
        if built > 0 {
            self.committed();
        }
        Ok(built)
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        let pool = self.readers.as_ref()?;
        let idle = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).len() as u64;
        Some(PoolStatus { in_use: pool.in_use.load(Ordering::Relaxed), idle, max_idle: MAX_IDLE_READERS as u64 })
    }

    fn data_version(&self) -> Result<u64> {
        let local = self.commits.load(Ordering::Relaxed);
        let Some(probe) = &self.probe else { return Ok(local) };
        let conn = probe.lock().unwrap_or_else(|p| p.into_inner());
        let external: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        // Either moving moves the result: external commits (any connection but the
        // probe, which never writes) in the high bits, ours in the low bits.
        Ok((to_u64(external) << 32) ^ local)
    }

    fn migration_status(&self) -> Result<Vec<MigrationStatus>> {
        migrations::status(&self.lock())
    }

    fn begin_load(&self, source: &LoadSource) -> Result<LoadId> {
        self.write(|db| ledger::begin_load(db, source))
    }

    fn write_stream_batch(
        &self,
        load: LoadId,
        kind: SourceKind,
        file: &str,
        records: Vec<SourcedRecord>,
        rejects: &[Reject],
        cursors: &[crate::Cursor],
    ) -> Result<BatchOutcome> {
        let mut conn = self.ready()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        ledger::check_content(&mut Lite(&tx), kind, !records.is_empty())?;
        let mut batch = Batch::new(&tx, &self.tables, load.0, kind, file)?;
        for record in records {
            batch.write(record)?;
        }
        batch.record_changes()?;
        let outcome = batch.finish();
        for r in rejects {
            ledger::insert_reject(&mut Lite(&tx), load.0, r)?;
        }
        crate::sql::streams::save_cursors(&mut Lite(&tx), cursors)?;
        tx.commit()?;
        self.committed();
        Ok(outcome)
    }

    fn record_rejects(&self, load: LoadId, rejects: &[Reject]) -> Result<()> {
        self.write_data(|db| rejects.iter().try_for_each(|r| ledger::insert_reject(db, load.0, r)))
    }

    fn finish_load(&self, load: LoadId, summary: &LoadSummary) -> Result<()> {
        self.write_data(|db| ledger::finish_load(db, load, summary))
    }

    fn loads(&self, limit: usize) -> Result<Vec<LoadEntry>> {
        self.read(|db| ledger::loads(db, limit))
    }

    fn rejects(&self, load: LoadId) -> Result<Vec<Reject>> {
        self.read(|db| ledger::rejects(db, load))
    }

    fn stats(&self) -> Result<StoreStats> {
        self.read(ledger::stats)
    }

    fn check_integrity(&self) -> Result<Vec<String>> {
        let conn = self.ready()?;
        let mut problems = Vec::new();
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        for line in stmt.query_map([], |r| r.get::<_, String>(0))? {
            let line = line?;
            if line != "ok" {
                problems.push(format!("integrity: {line}"));
            }
        }
        let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?;
        for row in rows {
            let (table, rowid, parent) = row?;
            problems.push(format!("foreign key: {table} row {rowid} refers to a missing {parent} row"));
        }
        Ok(problems)
    }

    fn content_checksums(&self) -> Result<Vec<TableChecksum>> {
        let conn = self.ready()?;
        Record::ALL_SPECS.iter().map(|spec| checksum_table(&conn, spec)).collect()
    }

    fn revisions(&self, event: &str) -> Result<Vec<Revision>> {
        self.read(|db| ledger::revisions(db, event))
    }

    fn index_changes(&self, after: u64, limit: usize) -> Result<Vec<IndexChange>> {
        self.read(|db| ledger::index_changes(db, after, limit))
    }

    fn changes(&self, after: u64, limit: usize) -> Result<Vec<crate::Change>> {
        self.read(|db| ledger::changes(db, after, limit))
    }

    fn change_log_head(&self) -> Result<u64> {
        self.read(ledger::change_log_head)
    }

    fn index_log_head(&self) -> Result<u64> {
        self.read(ledger::index_log_head)
    }

    fn dump_tables(&self, sink: &mut dyn crate::backup::RowSink) -> Result<crate::backup::DumpInfo> {
        backup::dump(self, sink)
    }

    fn restore_tables(&self, source: &mut dyn crate::backup::RowSource) -> Result<()> {
        let restored = backup::restore(self, source);
        self.schema_changed();
        restored
    }

    fn store_id(&self) -> Result<Option<String>> {
        self.read(|db| ledger::meta(db, "store_id"))
    }

    fn content_kind(&self) -> Result<Option<bool>> {
        Ok(self.read(|db| ledger::meta(db, "content"))?.map(|s| s == "demo"))
    }
}

/// Hashes one table's data in a stable order. Child rows are named by their
/// event's `ev_id`/`ntsb_no`, and provenance (`field_sources`, whose generations
/// are ledger ids) is left out, so load history never affects the result. Table and column names come only from the static specs.
fn checksum_table(conn: &Connection, spec: &ntsb_model::records::TableSpec) -> Result<TableChecksum> {
    use sha2::{Digest, Sha256};
    let cols: Vec<String> = spec.key_columns.iter().chain(spec.columns).map(|c| format!("t.{c}")).collect();
    let keys: Vec<String> = spec.key_columns.iter().map(|c| format!("t.{c}")).collect();
    let sql = if spec.child_of_event {
        format!(
            "SELECT e.ev_id, e.ntsb_no, {cols} FROM {table} t JOIN events e ON e.id = t.event_id \
             ORDER BY e.ev_id, e.ntsb_no, {keys}",
            cols = cols.join(", "),
            table = spec.name,
            keys = keys.join(", ")
        )
    } else {
        format!(
            "SELECT {cols} FROM {table} t ORDER BY {keys}",
            cols = cols.join(", "),
            table = spec.name,
            keys = keys.join(", ")
        )
    };
    let mut stmt = conn.prepare(&sql)?;
    let width = stmt.column_count();
    let mut rows = stmt.query([])?;
    let mut hasher = Sha256::new();
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        count += 1;
        for i in 0..width {
            match row.get_ref(i)? {
                rusqlite::types::ValueRef::Null => hasher.update(b"N"),
                rusqlite::types::ValueRef::Integer(n) => hasher.update(format!("I{n}")),
                rusqlite::types::ValueRef::Real(f) => hasher.update(format!("R{f:?}")),
                rusqlite::types::ValueRef::Text(t) => {
                    hasher.update(format!("T{}:", t.len()));
                    hasher.update(t);
                }
                rusqlite::types::ValueRef::Blob(b) => {
                    hasher.update(format!("B{}:", b.len()));
                    hasher.update(b);
                }
            }
            hasher.update([0x1f]);
        }
        hasher.update([0x1e]);
    }
    Ok(TableChecksum { table: spec.name.to_string(), rows: count, sha256: hex::encode(hasher.finalize()) })
}
