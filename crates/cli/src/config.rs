//! The one typed configuration, layered: defaults < TOML file < `NTSB_*`
//! environment < flags, validated at start-up with messages that name the
//! setting.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::cli::GlobalArgs;

/// Where the data lives and how to log.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Directory for the database, index and rejects reports.
    pub data_dir: PathBuf,
    /// The database to use.
    pub database: Database,
    /// Whether this is the synthetic demo store.
    pub demo: bool,
    /// Redis URL (may hold a password), when configured.
    pub redis_url: Option<String>,
    /// Log output format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
    /// Accounts: signing secret, registration, quotas, login limits.
    pub auth: crate::auth_config::AuthSettings,
}

/// The database backend and its location.
#[derive(Debug, Clone, PartialEq)]
pub enum Database {
    /// Embedded SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server (15 or later).
    Postgres(PostgresSettings),
}

/// Where and how to reach PostgreSQL.
#[derive(Clone, PartialEq)]
pub struct PostgresSettings {
    /// `postgres://…` URL; may hold a password, so never printed whole.
    pub url: String,
    /// Schema (`search_path`), when not the server's default.
    pub schema: Option<String>,
    /// Most pooled connections.
    pub pool_size: usize,
    /// Longest a statement may run (0: no limit).
    pub statement_timeout: Duration,
}

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("url", &ntsb_store::postgres::redact(&self.url))
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

impl PostgresSettings {
    /// The store's settings for these.
    pub fn store_config(&self) -> ntsb_store::postgres::PostgresConfig {
        let mut config = ntsb_store::postgres::PostgresConfig::new(&self.url);
        config.schema = self.schema.clone();
        config.pool_size = self.pool_size;
        config.statement_timeout = self.statement_timeout;
        config
    }
}

/// Default PostgreSQL pool size per process.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// Largest accepted pool size (PostgreSQL's default `max_connections` is 100).
pub const MAX_POOL_SIZE: usize = 200;
/// Default statement timeout, seconds.
pub const DEFAULT_STATEMENT_TIMEOUT_SECS: u64 = 60;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The TOML file's keys. Unknown keys are an error, so a typo never passes
/// silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_url_file: Option<PathBuf>,
    db_schema: Option<String>,
    db_pool_size: Option<usize>,
    db_statement_timeout: Option<u64>,
    redis_url: Option<String>,
    log_format: Option<String>,
    log_level: Option<String>,
    auth: Option<crate::auth_config::AuthFile>,
}

impl Config {
    /// Builds and validates the configuration from the parsed global options
    /// (which already hold flags and environment variables).
    pub fn load(args: &GlobalArgs) -> Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let data_dir = args.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("ntsb-data"));
        if data_dir.as_os_str().is_empty() {
            bail!("data_dir (--data-dir, NTSB_DATA_DIR): must not be empty");
        }
        if data_dir.exists() && !data_dir.is_dir() {
            bail!("data_dir (--data-dir, NTSB_DATA_DIR): {} exists and is not a directory", data_dir.display());
        }
        let url = match (args.database_url.clone(), args.database_url_file.clone()) {
            (Some(_), Some(_)) => bail!(
                "database_url (--db, NTSB_DATABASE_URL) and database_url_file (--db-url-file, NTSB_DATABASE_URL_FILE): give one, not both"
            ),
            (Some(url), None) => Some(url),
            (None, Some(path)) => Some(read_url_file(&path)?),
            (None, None) => match (file.database_url, file.database_url_file) {
                (Some(_), Some(_)) => bail!("config file: give database_url or database_url_file, not both"),
                (Some(url), None) => Some(url),
                (None, Some(path)) => Some(read_url_file(&path)?),
                (None, None) => None,
            },
        };
        let demo = args.demo;
        let mut database = match (&url, demo) {
            (Some(_), true) => {
                bail!("--demo uses its own store under DATA_DIR/demo; do not combine it with --db / NTSB_DATABASE_URL")
            }
            (Some(url), false) => parse_database_url(url)?,
            (None, true) => Database::Sqlite(data_dir.join("demo").join("ntsb.sqlite")),
            (None, false) => Database::Sqlite(data_dir.join("ntsb.sqlite")),
        };
        let schema = args.db_schema.clone().or(file.db_schema);
        let pool_size = args.db_pool_size.or(file.db_pool_size);
        let timeout = args.db_statement_timeout.or(file.db_statement_timeout);
        match &mut database {
            Database::Postgres(pg) => {
                if let Some(schema) = schema {
                    if schema.is_empty()
                        || schema.len() > 63
                        || !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        || schema.starts_with(|c: char| c.is_ascii_digit())
                    {
                        bail!(
                            "db_schema (--db-schema, NTSB_DB_SCHEMA): {schema:?} must be 1 to 63 letters, digits and _, not starting with a digit"
                        );
                    }
                    pg.schema = Some(schema);
                }
                if let Some(n) = pool_size {
                    if !(1..=MAX_POOL_SIZE).contains(&n) {
                        bail!(
                            "db_pool_size (--db-pool-size, NTSB_DB_POOL_SIZE): {n} is not between 1 and {MAX_POOL_SIZE}"
                        );
                    }
                    pg.pool_size = n;
                }
                if let Some(secs) = timeout {
                    if secs > 24 * 3600 {
                        bail!(
                            "db_statement_timeout (--db-statement-timeout, NTSB_DB_STATEMENT_TIMEOUT): {secs} s is more than a day"
                        );
                    }
                    pg.statement_timeout = Duration::from_secs(secs);
                }
            }
            Database::Sqlite(_) => {
                let given = [
                    (schema.is_some(), "db_schema (--db-schema, NTSB_DB_SCHEMA)"),
                    (pool_size.is_some(), "db_pool_size (--db-pool-size, NTSB_DB_POOL_SIZE)"),
                    (timeout.is_some(), "db_statement_timeout (--db-statement-timeout, NTSB_DB_STATEMENT_TIMEOUT)"),
                ];
                if let Some((_, name)) = given.iter().find(|(set, _)| *set) {
                    bail!("{name}: applies to PostgreSQL only, and the database is SQLite");
                }
            }
        }
        let redis_url = args.redis_url.clone().or(file.redis_url).filter(|u| !u.trim().is_empty());
        if let Some(url) = &redis_url
            && let Err(e) = ntsb_server::redis_link::RedisLink::new(url)
        {
            bail!("redis_url (--redis-url, NTSB_REDIS_URL): {e}");
        }
        let log_format = match args.log_format.clone().or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("log_format (--log-format, NTSB_LOG_FORMAT): {other:?} is not `text` or `json`"),
        };
        let log_level = args.log_level.clone().or(file.log_level).unwrap_or_else(|| "warn".to_string());
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            bail!("log_level (--log-level, NTSB_LOG): {log_level:?} is not a valid level or filter");
        }
        let auth = crate::auth_config::AuthSettings::load(&args.auth, file.auth, &data_dir, |k| std::env::var(k).ok())?;
        Ok(Config { data_dir, database, demo, redis_url, log_format, log_level, auth })
    }

    /// Directory of the store in use (the demo store has its own).
    pub fn store_dir(&self) -> PathBuf {
        if self.demo { self.data_dir.join("demo") } else { self.data_dir.clone() }
    }

    /// Directory of the full-text index.
    pub fn index_dir(&self) -> PathBuf {
        self.store_dir().join("index")
    }

    /// Directory of rejects reports.
    pub fn rejects_dir(&self) -> PathBuf {
        self.store_dir().join("rejects")
    }
}

/// Reads a database URL from a file (a mounted secret): its first non-empty line.
fn read_url_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!("database_url_file (--db-url-file, NTSB_DATABASE_URL_FILE): cannot read {}", path.display())
    })?;
    match text.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(url) => Ok(url.to_string()),
        None => bail!("database_url_file (--db-url-file, NTSB_DATABASE_URL_FILE): {} is empty", path.display()),
    }
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {}", path.display(), e.message()))
}

/// Parses `--db`: `postgres://…` / `postgresql://…`, `sqlite:PATH`,
/// `sqlite://PATH`, or a bare file path.
pub fn parse_database_url(url: &str) -> Result<Database> {
    let url = url.trim();
    if url.is_empty() {
        bail!("database_url (--db, NTSB_DATABASE_URL): must not be empty");
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            bail!(
                "database_url (--db, NTSB_DATABASE_URL): `sqlite:` needs a file path, e.g. sqlite:./ntsb-data/ntsb.sqlite"
            );
        }
        return Ok(Database::Sqlite(PathBuf::from(path)));
    }
    if ntsb_store::is_postgres_url(url) {
        let settings = PostgresSettings {
            url: url.to_string(),
            schema: None,
            pool_size: DEFAULT_POOL_SIZE,
            statement_timeout: Duration::from_secs(DEFAULT_STATEMENT_TIMEOUT_SECS),
        };
        if let Err(e) = ntsb_store::postgres::check_config(&settings.store_config()) {
            bail!("database_url (--db, NTSB_DATABASE_URL): {e}");
        }
        return Ok(Database::Postgres(settings));
    }
    if let Some((scheme, _)) = url.split_once("://") {
        bail!("database_url (--db, NTSB_DATABASE_URL): unsupported scheme {scheme:?}; use postgres://… or sqlite:PATH");
    }
    Ok(Database::Sqlite(PathBuf::from(url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> GlobalArgs {
        GlobalArgs::default()
    }

    #[test]
    fn defaults_put_everything_under_ntsb_data() {
        let c = Config::load(&args()).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("ntsb-data"));
        assert_eq!(c.database, Database::Sqlite(PathBuf::from("ntsb-data/ntsb.sqlite")));
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn database_urls_are_parsed_or_refused_by_name() {
        assert_eq!(parse_database_url("sqlite:/tmp/x.db").unwrap(), Database::Sqlite("/tmp/x.db".into()));
        assert_eq!(parse_database_url("sqlite:///tmp/x.db").unwrap(), Database::Sqlite("/tmp/x.db".into()));
        assert_eq!(parse_database_url("x.db").unwrap(), Database::Sqlite("x.db".into()));
        let err = parse_database_url("mysql://h/db").unwrap_err().to_string();
        assert!(err.contains("database_url") && err.contains("mysql"), "{err}");
        let Database::Postgres(pg) = parse_database_url("postgres://ntsb:s3cret@db.internal:5432/ntsb").unwrap() else {
            panic!("a postgres URL is PostgreSQL");
        };
        assert_eq!((pg.pool_size, pg.statement_timeout.as_secs()), (DEFAULT_POOL_SIZE, DEFAULT_STATEMENT_TIMEOUT_SECS));
        assert!(!format!("{pg:?}").contains("s3cret"), "the password never appears in debug output");
        assert!(matches!(parse_database_url("postgresql://h/db").unwrap(), Database::Postgres(_)));
        let err = parse_database_url("postgres://u:s3cret@h:notaport/db").unwrap_err().to_string();
        assert!(err.contains("database_url") && !err.contains("s3cret"), "{err}");
    }

    #[test]
    fn postgres_settings_are_validated_by_name_and_refused_for_sqlite() {
        let mut a = args();
        a.database_url = Some("postgres://postgres@127.0.0.1/postgres".into());
        a.db_schema = Some("replica_1".into());
        a.db_pool_size = Some(20);
        a.db_statement_timeout = Some(5);
        let Database::Postgres(pg) = Config::load(&a).unwrap().database else { panic!("postgres") };
        assert_eq!(
            (pg.schema.as_deref(), pg.pool_size, pg.statement_timeout),
            (Some("replica_1"), 20, Duration::from_secs(5))
        );
        assert_eq!(pg.store_config().pool_size, 20);

        for (schema, pool) in [("bad-name", 4), ("ok", 0), ("ok", 10_000)] {
            let mut b = a.clone();
            b.db_schema = Some(schema.into());
            b.db_pool_size = Some(pool);
            let err = Config::load(&b).unwrap_err().to_string();
            assert!(err.contains("db_schema") || err.contains("db_pool_size"), "{err}");
        }
        let mut sqlite = args();
        sqlite.db_pool_size = Some(4);
        assert!(Config::load(&sqlite).unwrap_err().to_string().contains("PostgreSQL only"));
    }

    #[test]
    fn the_url_can_come_from_a_secret_file_but_not_twice() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db-url");
        std::fs::write(&file, "\npostgres://ntsb:pw@h/db\n").unwrap();
        let mut a = args();
        a.database_url_file = Some(file.clone());
        let Database::Postgres(pg) = Config::load(&a).unwrap().database else { panic!("postgres") };
        assert_eq!(pg.url, "postgres://ntsb:pw@h/db");
        a.database_url = Some("x.db".into());
        assert!(Config::load(&a).unwrap_err().to_string().contains("not both"));
        a.database_url = None;
        a.database_url_file = Some(dir.path().join("missing"));
        assert!(Config::load(&a).unwrap_err().to_string().contains("database_url_file"));
    }

    #[test]
    fn file_layer_is_below_flags_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ntsb.toml");
        std::fs::write(&file, "data_dir = \"/srv/ntsb\"\nlog_format = \"json\"\n").unwrap();
        let mut a = args();
        a.config = Some(file.clone());
        let c = Config::load(&a).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/ntsb"));
        assert_eq!(c.log_format, LogFormat::Json);
        a.data_dir = Some("/flag".into());
        assert_eq!(Config::load(&a).unwrap().data_dir, PathBuf::from("/flag"));

        std::fs::write(&file, "data_dri = \"/typo\"\n").unwrap();
        let err = Config::load(&a).unwrap_err().to_string();
        assert!(err.contains("data_dri"), "{err}");
    }

    #[test]
    fn demo_never_shares_the_real_store() {
        let mut a = args();
        a.demo = true;
        let c = Config::load(&a).unwrap();
        assert_eq!(c.database, Database::Sqlite(PathBuf::from("ntsb-data/demo/ntsb.sqlite")));
        a.database_url = Some("sqlite:x.db".into());
        assert!(Config::load(&a).is_err());
    }

    #[test]
    fn a_redis_url_is_checked_at_start_without_showing_its_password() {
        let mut a = args();
        a.redis_url = Some("redis://:s3cret@127.0.0.1:6379/0".into());
        assert!(Config::load(&a).unwrap().redis_url.is_some());
        a.redis_url = Some("http://:s3cret@cache".into());
        let err = Config::load(&a).unwrap_err().to_string();
        assert!(err.contains("redis_url") && !err.contains("s3cret"), "{err}");
    }

    #[test]
    fn bad_log_settings_name_the_setting() {
        let mut a = args();
        a.log_format = Some("xml".into());
        assert!(Config::load(&a).unwrap_err().to_string().contains("log_format"));
    }
}
