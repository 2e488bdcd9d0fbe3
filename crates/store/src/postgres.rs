//! The PostgreSQL implementation of [`Store`] and [`crate::Queries`].
//!
//! Same tables, same rules and same answers as [`crate::sqlite::SqliteStore`]:
//! the schema mirrors the SQLite migrations version by version
//! (`crates/store/migrations/postgres`), the upsert is a port of the SQLite one,
//! and the conformance suite (`crates/store/tests`) runs every storage test on
//! both. What differs is operational:
//!
//! * **Connections** come from a small blocking pool ([`PostgresConfig::pool_size`],
//!   default 16) with an acquire timeout; every connection has a server-side
//!   `statement_timeout`. The synchronous client must not be called on an async
//!   runtime thread: the server calls the store through `spawn_blocking`.
//! * **Transient errors** (serialization failure, deadlock, a dropped connection,
//!   the server restarting) are retried with backoff, the whole transaction again.
//! * **One writer at a time**: `write_batch` takes a transaction-scoped advisory
//!   lock, as SQLite's `BEGIN IMMEDIATE` does, so the read-then-write upsert sees a
//!   stable table. Readers never wait for it.
//! * **Change signal**: every committed transaction that changes data (a batch
//!   that wrote rows or rejects, a ledger update, an index acknowledgement, a
//!   restore, a migration) bumps `store_meta.data_version` and sends
//!   `NOTIFY ntsb_data_changed_<schema>` with the new version, so other processes (API
//!   replicas) learn within milliseconds ([`PostgresStore::listen_changes`]) or by
//!   polling [`Store::data_version`] (one indexed read).

mod backup;
mod detail;
mod migrations;
mod nonblocking;
mod pool;
mod query;
pub(crate) mod sql;
mod upsert;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ntsb_model::SourceKind;
use ntsb_model::records::{Record, Reject, SourcedRecord, TableSpec};
use postgres::fallible_iterator::FallibleIterator;

pub use pool::PoolStatus;

use crate::sql::{SqlStore, ledger};
use crate::{
    BatchOutcome, Error, IndexChange, LoadEntry, LoadId, LoadSource, LoadSummary, MigrationStatus, Result, Revision,
    Store, StoreStats, TableChecksum,
};
use pool::{Pool, PooledConn};
use sql::Db;
use upsert::{Batch, TableSql};

/// Seed of the writers' advisory lock key (see [`TAKE_WRITE_LOCK`]).
const WRITE_LOCK: i64 = 0x6e74_7362_7772_6974; // "ntsbwrit"

/// Takes the writers' transaction-scoped advisory lock (held by `write_batch`,
/// a restore and the document builder: one writer at a time). Advisory locks are
/// database-wide, so the key is derived from the schema: stores in two schemas
/// of one database (tests, deployments) never wait for each other.
const TAKE_WRITE_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended(current_schema(), ?1))";

/// [`TAKE_WRITE_LOCK`] without waiting: whether the lock was free (and is now held).
const TRY_WRITE_LOCK: &str = "SELECT pg_try_advisory_xact_lock(hashtextextended(current_schema(), ?1))";

/// Prefix of the change notification channels: each schema has its own,
/// `ntsb_data_changed_<schema>` (cut to PostgreSQL's 63-byte identifier limit),
/// so stores in other schemas of the same database do not wake its listeners.
pub const CHANGE_CHANNEL_PREFIX: &str = "ntsb_data_changed_";

/// Settings of a [`PostgresStore`]. Build with [`PostgresConfig::new`] and adjust
/// the public fields.
#[derive(Clone)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/database?…` (libpq URL syntax).
    pub url: String,
    /// Largest number of pooled connections (default 16).
    pub pool_size: usize,
    /// Longest a statement may run on the server before it is cancelled
    /// (default 60 s; 0 disables). Backups and restores lift it for their own
    /// transaction.
    pub statement_timeout: Duration,
    /// Longest to wait for a TCP connection (default 10 s).
    pub connect_timeout: Duration,
    /// Longest to wait for a free pooled connection (default 30 s).
    pub acquire_timeout: Duration,
    /// Extra attempts after a transient error (default 3).
    pub retries: u32,
    /// Schema to work in (`search_path`), e.g. one per test; `None` for the
    /// server default (`public`). Letters, digits and `_` only.
    pub schema: Option<String>,
    /// Whether to use PostGIS for geographic queries when the extension is
    /// installed (default true). Off forces the plain-SQL fallback.
    pub use_postgis: bool,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &redact(&self.url))
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PostgresConfig {
    /// Defaults for `url`.
    pub fn new(url: &str) -> PostgresConfig {
        PostgresConfig {
            url: url.to_string(),
            pool_size: 16,
            statement_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(30),
            retries: 3,
            schema: None,
            use_postgis: true,
        }
    }

    fn client_config(&self) -> Result<postgres::Config> {
        Ok(postgres::Config::from(self.async_client_config()?))
    }

    /// The same settings for the async client (see `nonblocking.rs`).
    fn async_client_config(&self) -> Result<tokio_postgres::Config> {
        let mut config: tokio_postgres::Config = self
            .url
            .parse()
            .map_err(|e| Error::Config { url: redact(&self.url), reason: format!("not a PostgreSQL URL: {e}") })?;
        config.connect_timeout(self.connect_timeout);
        config.application_name("ntsb");
        // Custom plans for every execution: a generic plan of a prepared lookup
        // (`… WHERE ntsb_no = $1 … ORDER BY id LIMIT 1`) can walk a whole table.
        let mut options =
            format!("-c statement_timeout={} -c plan_cache_mode=force_custom_plan", self.statement_timeout.as_millis());
        if let Some(schema) = &self.schema {
            if schema.is_empty() || !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::Config {
                    url: redact(&self.url),
                    reason: format!("schema {schema:?} must be letters, digits and _ only"),
                });
            }
            options.push_str(&format!(" -c search_path={schema}"));
        }
        if let Some(existing) = config.get_options() {
            options = format!("{existing} {options}");
        }
        config.options(&options);
        Ok(config)
    }
}

/// Checks that `url` parses as a PostgreSQL URL (and the config's schema name is
/// acceptable) without connecting; the error never shows a password.
pub fn check_config(config: &PostgresConfig) -> Result<()> {
    config.client_config().map(|_| ())
}

/// The URL with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let hidden = if userinfo.contains(':') { format!("{user}:***") } else { user.to_string() };
            format!("{scheme}://{hidden}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// A [`Store`] in a PostgreSQL database.
pub struct PostgresStore {
    config: PostgresConfig,
    pool: Pool,
    tables: HashMap<&'static str, TableSql>,
    /// Set once the schema was seen at [`PostgresStore::LATEST_VERSION`].
    ready: AtomicBool,
    /// Whether PostGIS is installed in the database (checked at open).
    postgis: bool,
    /// The async connections of [`crate::Queries::event_document_nonblocking`].
    document_reads: Arc<nonblocking::DocumentReads>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Whether an error is worth retrying the whole transaction for.
fn transient(e: &Error) -> bool {
    match e {
        Error::Postgres(e) => {
            if e.is_closed() {
                return true;
            }
            match e.code() {
                Some(code) => {
                    let c = code.code();
                    // serialization_failure, deadlock_detected, connection exceptions,
                    // admin/crash shutdown, cannot_connect_now.
                    c == "40001" || c == "40P01" || c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03"
                }
                // No SQLSTATE: an I/O error on the socket.
                None => e.as_db_error().is_none(),
            }
        }
        Error::Unavailable(_) => false,
        _ => false,
    }
}

impl PostgresStore {
    /// Schema version this program reads and writes: the last migration.
    pub const LATEST_VERSION: i64 = 15;

    /// Connects with default settings. Does not migrate: call [`Store::migrate`].
    pub fn open(url: &str) -> Result<PostgresStore> {
        PostgresStore::connect(PostgresConfig::new(url))
    }

    /// Connects with `config` (one connection is opened to check the server).
    pub fn connect(config: PostgresConfig) -> Result<PostgresStore> {
        let client_config = config.client_config()?;
        let pool = Pool::new(client_config, config.pool_size, config.acquire_timeout);
        let document_reads = Arc::new(nonblocking::DocumentReads::new(config.async_client_config()?));
        let mut store = PostgresStore {
            config,
            pool,
            tables: upsert::all_tables(),
            ready: AtomicBool::new(false),
            postgis: false,
            document_reads,
        };
        let postgis = {
            let mut conn = store.pool.get().map_err(|e| match e {
                Error::Unavailable(reason) => Error::Config { url: redact(&store.config.url), reason },
                e => e,
            })?;
            let row =
                conn.client.query_one("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis')", &[])?;
            row.try_get::<_, bool>(0)?
        };
        store.postgis = postgis;
        Ok(store)
    }

    /// The settings this store was opened with.
    pub fn config(&self) -> &PostgresConfig {
        &self.config
    }

    /// Pool counts (open, idle, size).
    pub fn pool_status(&self) -> PoolStatus {
        self.pool.status()
    }

    /// Whether PostGIS is installed in the database.
    pub fn has_postgis(&self) -> bool {
        self.postgis
    }

    /// Whether geographic queries go through PostGIS.
    pub(crate) fn use_postgis(&self) -> bool {
        self.postgis && self.config.use_postgis
    }

    /// Highest applied migration version (0 for a new database).
    pub fn current_version(&self) -> Result<i64> {
        let mut conn = self.pool.get()?;
        migrations::current_version(&mut conn.client)
    }

    /// Lends a pooled connection for `f`, e.g. to hold it in a test.
    pub fn with_connection<T>(&self, f: impl FnOnce(&mut postgres::Client) -> Result<T>) -> Result<T> {
        let mut conn = self.pool.get()?;
        f(&mut conn.client)
    }

    fn check_ready(&self, conn: &mut PooledConn<'_>) -> Result<()> {
        if self.ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        let found = migrations::current_version(&mut conn.client)?;
        if found < Self::LATEST_VERSION {
            return Err(Error::SchemaOutOfDate { found, needed: Self::LATEST_VERSION });
        }
        self.ready.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Runs `f` on a pooled connection, provided the schema is current; runs it
    /// again on a fresh connection after a transient error (with backoff), up to
    /// the configured retries. `f` must be safe to repeat: a whole transaction,
    /// or a single read.
    fn with_retries<T>(&self, mut f: impl FnMut(&mut pool::PgConn) -> Result<T>) -> Result<T> {
        let mut attempt = 0u32;
        loop {
            let mut conn = self.pool.get()?;
            let result = self.check_ready(&mut conn).and_then(|()| f(&mut conn));
            match result {
                Err(e) if attempt < self.config.retries && transient(&e) => {
                    if conn.client.is_closed() {
                        conn.discard();
                    } else {
                        drop(conn);
                    }
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(50 << attempt.min(6)));
                }
                other => return other,
            }
        }
    }

    /// Runs `f` in one transaction on a pooled connection, provided the schema is
    /// current; retries the whole transaction after a transient error.
    pub(crate) fn transaction<T>(&self, mut f: impl FnMut(&mut Db<'_, '_>) -> Result<T>) -> Result<T> {
        self.with_retries(|conn| {
            let pool::PgConn { client, stmts } = conn;
            let tx = client.transaction()?;
            let mut db = Db::new(tx, stmts);
            let value = f(&mut db)?;
            db.commit()?;
            Ok(value)
        })
    }

    /// The first row of one statement, run outside any transaction: one round
    /// trip instead of three (BEGIN, the statement, COMMIT), for the hottest
    /// single-statement reads (a statement sees one snapshot anyway). Retried
    /// after a transient error like [`PostgresStore::transaction`].
    pub(crate) fn query_opt_once(&self, sql: &str, params: &[sql::Param<'_>]) -> Result<Option<postgres::Row>> {
        self.with_retries(|conn| {
            let pool::PgConn { client, stmts } = conn;
            let stmt = sql::prepare_cached(client, stmts, sql)?;
            Ok(client.query_opt(&stmt, params)?)
        })
    }

    /// A read: the same as [`PostgresStore::transaction`] (a read-only query
    /// commits nothing, and retrying it is always safe).
    pub(crate) fn read<T>(&self, f: impl FnMut(&mut Db<'_, '_>) -> Result<T>) -> Result<T> {
        self.transaction(f)
    }

    /// Announces a schema change as a data change, when `store_meta` exists.
    fn after_schema_change(&self) -> Result<()> {
        let mut conn = self.pool.get()?;
        let pool::PgConn { client, stmts } = &mut *conn;
        let tx = client.transaction()?;
        let mut db = Db::new(tx, stmts);
        let exists: bool = db.query_one("SELECT to_regclass('store_meta') IS NOT NULL", &[])?.try_get(0)?;
        if exists {
            bump_data_version(&mut db)?;
        }
        db.commit()
    }

    /// A connection that waits for change notifications from any process
    /// writing to this database (see [`ChangeListener`]).
    pub fn listen_changes(&self) -> Result<ChangeListener> {
        let mut client = self.config.client_config()?.connect(postgres::NoTls)?;
        let channel: String =
            client.query_one("SELECT left($1 || current_schema(), 63)", &[&CHANGE_CHANNEL_PREFIX])?.try_get(0)?;
        client.batch_execute(&format!("LISTEN \"{}\"", channel.replace('"', "\"\"")))?;
        Ok(ChangeListener { client })
    }
}

/// A dedicated connection listening for its schema's change notifications.
pub struct ChangeListener {
    client: postgres::Client,
}

impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListener").finish_non_exhaustive()
    }
}

impl ChangeListener {
    /// Waits up to `timeout` for a change; returns the newest data version
    /// announced (several notifications that arrived together count once), or
    /// `None` when nothing changed in time.
    pub fn wait(&mut self, timeout: Duration) -> Result<Option<u64>> {
        let mut notifications = self.client.notifications();
        let mut newest: Option<u64> = None;
        let mut iter = notifications.timeout_iter(timeout);
        if let Some(n) = iter.next()? {
            newest = n.payload().parse().ok().or(Some(0));
        }
        drop(iter);
        // Drain whatever else is already there without waiting.
        let mut rest = notifications.iter();
        while let Some(n) = rest.next()? {
            let v: Option<u64> = n.payload().parse().ok();
            newest = newest.max(v);
        }
        Ok(newest)
    }
}

pub(crate) fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl crate::sql::SqlStore for PostgresStore {
    fn dialect(&self) -> crate::sql::Dialect {
        crate::sql::Dialect::Postgres
    }

    fn read<T>(&self, mut f: impl FnMut(&mut dyn crate::sql::Conn) -> Result<T>) -> Result<T> {
        PostgresStore::read(self, |db| f(db))
    }

    fn write<T>(&self, mut f: impl FnMut(&mut dyn crate::sql::Conn) -> Result<T>) -> Result<T> {
        self.transaction(|db| f(db))
    }

    fn write_data<T>(&self, mut f: impl FnMut(&mut dyn crate::sql::Conn) -> Result<T>) -> Result<T> {
        self.transaction(|db| {
            let value = f(db)?;
            bump_data_version(db)?;
            Ok(value)
        })
    }
}

/// Increments `store_meta.data_version` and announces it on commit.
pub(crate) fn bump_data_version(db: &mut Db<'_, '_>) -> Result<i64> {
    let row = db.query_one(
        "INSERT INTO store_meta (key, value) VALUES ('data_version', '1') \
         ON CONFLICT (key) DO UPDATE SET value = (CAST(store_meta.value AS BIGINT) + 1)::text RETURNING value",
        &[],
    )?;
    let value: String = row.try_get(0)?;
    // Delivered to listeners only when (and if) the transaction commits.
    db.execute("SELECT pg_notify(left(?1 || current_schema(), 63), ?2)", &[&CHANGE_CHANNEL_PREFIX, &value])?;
    Ok(value.parse().unwrap_or(0))
}

impl Store for PostgresStore {
    fn migrate(&self) -> Result<Vec<i64>> {
        let mut conn = self.pool.get()?;
        if let Some(schema) = &self.config.schema {
            // A configured schema is created by the first migration run (the name
            // was checked to be letters, digits and `_` when connecting).
            // Looked up first: creating needs a privilege an existing schema's user may lack.
            let exists: bool = conn
                .client
                .query_one("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", &[schema])?
                .try_get(0)?;
            if !exists {
                conn.client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))?;
            }
        }
        let applied = migrations::migrate(&mut conn.client)?;
        self.ready.store(false, Ordering::Relaxed);
        drop(conn);
        if !applied.is_empty() {
            self.after_schema_change()?;
        }
        Ok(applied)
    }

    fn rollback(&self, steps: usize) -> Result<Vec<i64>> {
        let mut conn = self.pool.get()?;
        self.ready.store(false, Ordering::Relaxed);
        // Statements prepared against the old schema may no longer be valid.
        conn.stmts.clear();
        drop(conn);
        let mut conn = self.pool.get()?;
        let undone = migrations::rollback(&mut conn.client, steps)?;
        // Every pooled connection may cache statements of dropped tables: close them.
        conn.discard();
        self.pool.clear_idle();
        if !undone.is_empty() {
            self.after_schema_change()?;
        }
        Ok(undone)
    }

    fn migration_status(&self) -> Result<Vec<MigrationStatus>> {
        let mut conn = self.pool.get()?;
        migrations::status(&mut conn.client)
    }

    fn begin_load(&self, source: &LoadSource) -> Result<LoadId> {
        self.transaction(|db| ledger::begin_load(db, source))
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
        self.transaction(|db| {
            db.execute(TAKE_WRITE_LOCK, &[&WRITE_LOCK])?;
            // The connection's force_custom_plan (for the API's lookups) would re-plan
            // the foreign-key check of every inserted child row; a load's statements
            // are keyed lookups that a cached plan serves as well.
            db.tx.batch_execute("SET LOCAL plan_cache_mode = auto")?;
            ledger::check_content(db, kind, !records.is_empty())?;
            let (lines, parts): (Vec<u64>, Vec<_>) =
                records.iter().map(|r| (r.line, r.record.clone().into_parts())).unzip();
            let mut batch = Batch::new(db, &self.tables, load.0, kind, file)?;
            batch.read_ahead(&parts)?;
            for (line, record) in lines.into_iter().zip(parts) {
                batch.write(line, record)?;
            }
            batch.flush()?;
            batch.record_changes()?;
            let outcome = batch.finish();
            for r in rejects {
                ledger::insert_reject(db, load.0, r)?;
            }
            crate::sql::streams::save_cursors(db, cursors)?;
            if outcome.tables.values().any(|c| c.writes() > 0) || !outcome.rejects.is_empty() || !rejects.is_empty() {
                bump_data_version(db)?;
            }
            Ok(outcome)
        })
    }

    fn record_rejects(&self, load: LoadId, rejects: &[Reject]) -> Result<()> {
        if rejects.is_empty() {
            return Ok(());
        }
        self.write_data(|db| rejects.iter().try_for_each(|r| ledger::insert_reject(db, load.0, r)))
    }

    fn finish_load(&self, load: LoadId, summary: &LoadSummary) -> Result<()> {
        self.write_data(|db| ledger::finish_load(db, load, summary))
    }

    fn loads(&self, limit: usize) -> Result<Vec<LoadEntry>> {
        SqlStore::read(self, |db| ledger::loads(db, limit))
    }

    fn rejects(&self, load: LoadId) -> Result<Vec<Reject>> {
        SqlStore::read(self, |db| ledger::rejects(db, load))
    }

    fn stats(&self) -> Result<StoreStats> {
        SqlStore::read(self, ledger::stats)
    }

    fn check_integrity(&self) -> Result<Vec<String>> {
        self.read(|db| {
            let mut problems = Vec::new();
            // PostgreSQL enforces foreign keys itself; these checks catch what a
            // disabled trigger or a hand edit could leave behind.
            for spec in Record::ALL_SPECS.iter().filter(|s| s.child_of_event) {
                let n: i64 = db
                    .query_one(
                        &format!(
                            "SELECT count(*) FROM {t} c WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = c.event_id)",
                            t = spec.name
                        ),
                        &[],
                    )?
                    .try_get(0)?;
                if n > 0 {
                    problems.push(format!("foreign key: {} has {n} rows referring to a missing events row", spec.name));
                }
            }
            let n: i64 = db
                .query_one(
                    "SELECT count(*) FROM load_counts c WHERE NOT EXISTS (SELECT 1 FROM loads l WHERE l.id = c.load_id)",
                    &[],
                )?
                .try_get(0)?;
            if n > 0 {
                problems.push(format!("foreign key: load_counts has {n} rows referring to a missing loads row"));
            }
            let row = db.query_one(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM event_facts), \
                 (SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM event_facts f WHERE f.id = e.id))",
                &[],
            )?;
            let (events, facts, missing): (i64, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            if events != facts || missing > 0 {
                problems.push(format!(
                    "event_facts: {facts} rows for {events} events ({missing} events have no facts row)"
                ));
            }
            Ok(problems)
        })
    }

    fn content_checksums(&self) -> Result<Vec<TableChecksum>> {
        self.read(|db| Record::ALL_SPECS.iter().map(|spec| checksum_table(db, spec)).collect())
    }

    fn revisions(&self, event: &str) -> Result<Vec<Revision>> {
        SqlStore::read(self, |db| ledger::revisions(db, event))
    }

    fn index_changes(&self, after: u64, limit: usize) -> Result<Vec<IndexChange>> {
        SqlStore::read(self, |db| ledger::index_changes(db, after, limit))
    }

    fn changes(&self, after: u64, limit: usize) -> Result<Vec<crate::Change>> {
        SqlStore::read(self, |db| ledger::changes(db, after, limit))
    }

    fn change_log_head(&self) -> Result<u64> {
        SqlStore::read(self, ledger::change_log_head)
    }

    fn index_log_head(&self) -> Result<u64> {
        SqlStore::read(self, ledger::index_log_head)
    }

    fn build_documents(&self, limit: usize) -> Result<usize> {
        // No data version bump: a document changes no answer.
        self.transaction(|db| detail::build_documents(db, limit))
    }

    fn loads_build_documents(&self) -> bool {
        false
    }

    fn data_version_is_global(&self) -> bool {
        true
    }

    fn store_id(&self) -> Result<Option<String>> {
        SqlStore::read(self, |db| ledger::meta(db, "store_id"))
    }

    fn content_kind(&self) -> Result<Option<bool>> {
        Ok(SqlStore::read(self, |db| ledger::meta(db, "content"))?.map(|s| s == "demo"))
    }

    fn data_version(&self) -> Result<u64> {
        let mut conn = self.pool.get()?;
        let exists: bool = conn.client.query_one("SELECT to_regclass('store_meta') IS NOT NULL", &[])?.try_get(0)?;
        if !exists {
            return Ok(0);
        }
        let row = conn.client.query_opt("SELECT value FROM store_meta WHERE key = 'data_version'", &[])?;
        let v: Option<String> = match row {
            Some(row) => row.try_get(0)?,
            None => None,
        };
        Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    fn dump_tables(&self, sink: &mut dyn crate::backup::RowSink) -> Result<crate::backup::DumpInfo> {
        backup::dump(self, sink)
    }

    fn restore_tables(&self, source: &mut dyn crate::backup::RowSource) -> Result<()> {
        backup::restore(self, source)
    }
}

/// Hashes one table's data exactly as `sqlite.rs` `checksum_table` does (same
/// order — NULLs first, bytewise text — and the same encoding of each value by
/// its type), so equal content gives equal checksums on both backends.
fn checksum_table(db: &mut Db<'_, '_>, spec: &TableSpec) -> Result<TableChecksum> {
    use sha2::{Digest, Sha256};
    let cols: Vec<String> = spec.key_columns.iter().chain(spec.columns).map(|c| format!("t.{c}")).collect();
    let keys: Vec<String> = spec.key_columns.iter().map(|c| format!("t.{c} NULLS FIRST")).collect();
    let sql = if spec.child_of_event {
        format!(
            "SELECT e.ev_id, e.ntsb_no, {cols} FROM {table} t JOIN events e ON e.id = t.event_id \
             ORDER BY e.ev_id NULLS FIRST, e.ntsb_no NULLS FIRST, {keys}",
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
    let stmt = db.prepare(&sql)?;
    let mut rows = db.tx.query_raw(&stmt, std::iter::empty::<i64>())?;
    let mut hasher = Sha256::new();
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        count += 1;
        for i in 0..row.len() {
            match sql::value_at(&row, i)? {
                ntsb_model::value::Value::Null => hasher.update(b"N"),
                ntsb_model::value::Value::Int(n) => hasher.update(format!("I{n}")),
                ntsb_model::value::Value::Real(f) => hasher.update(format!("R{f:?}")),
                ntsb_model::value::Value::Text(t) => {
                    hasher.update(format!("T{}:", t.len()));
                    hasher.update(t.as_bytes());
                }
            }
            hasher.update([0x1f]);
        }
        hasher.update([0x1e]);
    }
    Ok(TableChecksum { table: spec.name.to_string(), rows: count, sha256: hex::encode(hasher.finalize()) })
}
