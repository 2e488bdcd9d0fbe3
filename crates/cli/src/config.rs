//! The one typed configuration, layered: defaults < TOML file < `NTSB_*`
//! environment < flags, validated at start-up with messages that name the
//! setting.
//!
//! Every setting is declared once, as a clap argument in [`crate::cli`] (flag,
//! variable, default, value parser, help). [`parse`] reads the TOML file named
//! by `--config` / `NTSB_CONFIG` and hands its values to clap as the arguments'
//! defaults, so a file value goes through the same validation as a flag and loses
//! to a flag or variable. [`Config::load`] then applies the rules between
//! settings (one database URL, PostgreSQL-only settings, the demo store).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::parser::ValueSource;
use clap::{ArgMatches, Command, CommandFactory, FromArgMatches};

pub use crate::cli::LogFormat;
use crate::cli::{Cli, GlobalArgs};

/// A setting that may hold a password (a database or Redis URL). Its `Debug`
/// shows the URL with the password masked, so logging a configuration never
/// leaks it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value itself, for the code that connects with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redact_url(&self.0))
    }
}

/// `scheme://user:password@host…` with the password replaced by `***`; any other
/// text is shown as `***` whole unless it has no `@` (a path).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.contains('@') { "***".to_string() } else { url.to_string() };
    };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_string(),
    };
    match path {
        Some(p) => format!("{scheme}://{authority}/{p}"),
        None => format!("{scheme}://{authority}"),
    }
}

/// Value parser of `data_dir`: any path but the empty one.
pub fn non_empty_path(value: &str) -> Result<PathBuf, String> {
    if value.trim().is_empty() { Err("must not be empty".into()) } else { Ok(PathBuf::from(value)) }
}

/// Value parser of a year range: `FROM-TO` or one `YEAR` (1900 to 2100, FROM ≤ TO).
pub fn year_range(value: &str) -> Result<(i32, i32), String> {
    let year = |s: &str| {
        s.trim()
            .parse::<i32>()
            .ok()
            .filter(|y| (1900..=2100).contains(y))
            .ok_or_else(|| format!("`{}` is not a year from 1900 to 2100", s.trim()))
    };
    let (from, to) = match value.split_once('-') {
        Some((a, b)) => (year(a)?, year(b)?),
        None => {
            let y = year(value)?;
            (y, y)
        }
    };
    if from > to { Err(format!("{from} is after {to}")) } else { Ok((from, to)) }
}

/// Value parser of text that must say something (`ntsb search`'s query).
pub fn non_blank(value: &str) -> Result<String, String> {
    if value.trim().is_empty() { Err("must not be empty".into()) } else { Ok(value.to_string()) }
}

/// Value parser of `db_schema`: a PostgreSQL identifier we can quote safely.
pub fn schema_name(value: &str) -> Result<String, String> {
    if value.is_empty()
        || value.len() > 63
        || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || value.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err("must be 1 to 63 letters, digits and _, not starting with a digit".into());
    }
    Ok(value.to_string())
}

/// Value parser of `redis_url`: checked at start (never echoing the password);
/// empty means none.
pub fn redis_url(value: &str) -> Result<Secret, String> {
    if !value.trim().is_empty() {
        ntsb_server::redis_link::RedisLink::new(value)?;
    }
    Ok(Secret(value.trim().to_string()))
}

/// Value parser of `sync_source`: an http(s) URL without credentials.
pub fn sync_source(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value.trim()).map_err(|_| "must be an http:// or https:// URL".to_string())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold credentials".into());
    }
    Ok(url)
}

/// Value parser of `sync_allowed_hosts`: a host name, an IP address or a CIDR range.
pub fn sync_host(value: &str) -> Result<String, String> {
    ntsb_sync::Policy::new(&[value]).map_err(|e| e.to_string())?;
    Ok(value.trim().to_string())
}

/// Value parser of `log_level`: a level or a `tracing` filter.
pub fn log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(value).map_err(|_| "is not a valid level or filter".to_string())?;
    Ok(value.to_string())
}

/// Value parser of `kafka_brokers`: `HOST:PORT`.
pub fn kafka_broker(value: &str) -> Result<String, String> {
    let value = value.trim();
    ntsb_kafka::KafkaConfig::new(vec![value.to_string()]).map_err(|e| e.to_string())?;
    Ok(value.to_string())
}

/// Value parser of Kafka topic names: Kafka's own rule (1 to 249 of letters,
/// digits, `.`, `_` and `-`, and not `.` or `..`).
pub fn kafka_topic(value: &str) -> Result<String, String> {
    let ok = (1..=249).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && value != "."
        && value != "..";
    if ok {
        Ok(value.to_string())
    } else {
        Err(format!("{value:?} is not a Kafka topic name (1 to 249 letters, digits, '.', '_' or '-')"))
    }
}

/// Where data lives, which database, how to log, and the accounts settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Directory for the database, index and rejects reports.
    pub data_dir: PathBuf,
    /// The database to use.
    pub database: Database,
    /// Whether this is the synthetic demo store.
    pub demo: bool,
    /// Redis URL (may hold a password), when configured.
    pub redis_url: Option<Secret>,
    /// Log output format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
    /// Accounts: signing secret, registration, quotas, login limits.
    pub auth: crate::auth_config::AuthSettings,
    /// Off-site backups: key file, object store, retention.
    pub offsite: crate::offsite_config::OffsiteArgs,
    /// `ntsb sync`: source, allowed hosts, size limit, metrics file.
    pub sync: crate::cli::SyncSettings,
    /// The sentence-embedding model directory, when configured.
    pub embedding_model: Option<PathBuf>,
    /// Kafka: brokers, the published topic, the lease, the consumer's metrics file.
    pub kafka: crate::cli::KafkaSettings,
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

/// Pool size until the settings are applied (the declared default is in [`crate::cli::GlobalArgs`]).
const INITIAL_POOL_SIZE: usize = 16;
/// Statement timeout until the settings are applied, seconds.
const INITIAL_STATEMENT_TIMEOUT_SECS: u64 = 60;

/// The TOML table holding [`crate::auth_config::AuthArgs`]'s settings.
const AUTH_TABLE: &str = "auth";
/// The TOML table holding `serve`'s settings.
const SERVE_TABLE: &str = "serve";

/// Parses the command line (`args[0]` is the program name), with the TOML file
/// named by `--config` / `NTSB_CONFIG` as the layer between the environment and
/// the defaults. A clap error (including `--help`) comes back as a
/// [`clap::Error`] inside the `anyhow::Error`, for `main` to print as clap does.
pub fn parse<I, T>(args: I) -> Result<Cli>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let command = Cli::command();
    let matches = command.clone().try_get_matches_from(&args).map_err(without_passwords)?;
    let Some(path) = matches.get_one::<PathBuf>("config").cloned() else {
        return finish(&matches, BTreeSet::new());
    };
    let (command, from_file) = with_file(command, &path)?;
    let matches = command.try_get_matches_from(&args).map_err(without_passwords)?;
    finish(&matches, from_file)
}

/// clap quotes a refused value in its message; a URL's password is masked there
/// (`redis://:***@cache`) so a typo never prints a secret to a terminal or a log.
fn without_passwords(e: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(value)) = e.get(ContextKind::InvalidValue) else {
        return e;
    };
    let masked = redact_url(value);
    if masked == *value {
        return e;
    }
    let text = e.to_string().replace(value.as_str(), &masked);
    clap::Error::raw(e.kind(), text.strip_prefix("error: ").unwrap_or(&text))
}

fn finish(matches: &ArgMatches, from_file: BTreeSet<String>) -> Result<Cli> {
    let mut cli = Cli::from_arg_matches(matches)?;
    let mut given = from_file;
    for id in matches.ids() {
        if matches!(matches.value_source(id.as_str()), Some(ValueSource::CommandLine | ValueSource::EnvVariable)) {
            given.insert(id.to_string());
        }
    }
    cli.global.given = given.into_iter().collect();
    Ok(cli)
}

/// The ids of the arguments that live in the `[auth]` table.
fn auth_ids() -> BTreeSet<String> {
    let cmd = <crate::auth_config::AuthArgs as clap::Args>::augment_args(Command::new("auth"));
    cmd.get_arguments().map(|a| a.get_id().to_string()).collect()
}

/// Where a setting lives: its table in the TOML file (`None`: top level) and
/// whether it belongs to `serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Top-level keys: the global settings.
    Top,
    /// `[auth]`: the accounts settings.
    Auth,
    /// `[serve]`: `ntsb serve`'s settings.
    Serve,
}

impl Table {
    /// The key's prefix in the README (`auth.`, `serve.`).
    pub fn prefix(self) -> &'static str {
        match self {
            Table::Top => "",
            Table::Auth => "auth.",
            Table::Serve => "serve.",
        }
    }
}

/// Every declared setting: its table and its clap argument, in declaration
/// order (global, then accounts, then `serve`). `--config` itself and clap's
/// `--help`/`--version` are not settings.
pub fn settings(command: &Command) -> Vec<(Table, clap::Arg)> {
    let auth = auth_ids();
    let is_setting = |a: &&clap::Arg| !matches!(a.get_id().as_str(), "config" | "help" | "version");
    let mut out: Vec<(Table, clap::Arg)> = command
        .get_arguments()
        .filter(is_setting)
        .map(|a| (if auth.contains(a.get_id().as_str()) { Table::Auth } else { Table::Top }, a.clone()))
        .collect();
    out.sort_by_key(|(t, _)| *t == Table::Auth);
    if let Some(serve) = command.find_subcommand("serve") {
        // A built command repeats the global arguments under each subcommand.
        let own = |a: &&clap::Arg| is_setting(a) && !a.is_global_set();
        out.extend(serve.get_arguments().filter(own).map(|a| (Table::Serve, a.clone())));
    }
    out
}

/// The command with the file's values as the defaults of their arguments, and
/// the ids the file set. Unknown keys and bad values are refused, naming the
/// file and the key.
fn with_file(mut command: Command, path: &Path) -> Result<(Command, BTreeSet<String>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("config file {}", path.display()))?;
    let file: toml::Table =
        toml::from_str(&text).map_err(|e| anyhow!("config file {}: {}", path.display(), e.message()))?;
    let known = settings(&command);
    let mut given = BTreeSet::new();
    let mut entries = Vec::new();
    for (key, value) in file {
        match (key.as_str(), value) {
            (AUTH_TABLE, toml::Value::Table(t)) => entries.extend(t.into_iter().map(|(k, v)| (Table::Auth, k, v))),
            (SERVE_TABLE, toml::Value::Table(t)) => entries.extend(t.into_iter().map(|(k, v)| (Table::Serve, k, v))),
            (_, value) => entries.push((Table::Top, key, value)),
        }
    }
    for (table, key, value) in entries {
        let name = format!("{}{key}", table.prefix());
        let Some((_, arg)) = known.iter().find(|(t, a)| *t == table && a.get_id().as_str() == key) else {
            let names: Vec<String> = known.iter().map(|(t, a)| format!("{}{}", t.prefix(), a.get_id())).collect();
            bail!("config file {}: unknown key `{name}` (known keys: {})", path.display(), names.join(", "));
        };
        let values = toml_values(&value).ok_or_else(|| {
            anyhow!("config file {}: `{name}` must be a string, number, boolean or list", path.display())
        })?;
        check_value(arg, &values).map_err(|e| anyhow!("config file {}: `{name}`: {e}", path.display()))?;
        let set = |a: clap::Arg| a.default_values(values.clone());
        command = match table {
            Table::Serve => command.mut_subcommand("serve", |s| s.mut_arg(key.as_str(), set)),
            Table::Top | Table::Auth => command.mut_arg(key.as_str(), set),
        };
        given.insert(key);
    }
    Ok((command, given))
}

fn toml_values(value: &toml::Value) -> Option<Vec<String>> {
    match value {
        toml::Value::String(s) => Some(vec![s.clone()]),
        toml::Value::Integer(i) => Some(vec![i.to_string()]),
        toml::Value::Float(f) => Some(vec![f.to_string()]),
        toml::Value::Boolean(b) => Some(vec![b.to_string()]),
        toml::Value::Array(items) => items.iter().map(|v| toml_values(v).and_then(|v| v.into_iter().next())).collect(),
        toml::Value::Datetime(_) | toml::Value::Table(_) => None,
    }
}

/// Runs `arg`'s own value parser over `values`, as clap would for a flag.
pub(crate) fn check_value(arg: &clap::Arg, values: &[String]) -> Result<(), String> {
    let probe = Command::new("ntsb")
        .no_binary_name(true)
        .arg(arg.clone().env(None::<&str>).global(false).required(false).default_values(values.to_vec()));
    match probe.try_get_matches_from(Vec::<String>::new()) {
        Ok(_) => Ok(()),
        Err(e) => {
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or("invalid value");
            Err(line.trim_start_matches("error: ").to_string())
        }
    }
}

impl Config {
    /// Builds the configuration from the parsed global options (flags,
    /// environment and file already layered and each value validated), applying
    /// the rules between settings.
    pub fn load(args: &GlobalArgs) -> Result<Config> {
        let data_dir = args.data_dir.clone();
        if data_dir.exists() && !data_dir.is_dir() {
            bail!("data_dir (--data-dir, NTSB_DATA_DIR): {} exists and is not a directory", data_dir.display());
        }
        let url = match (&args.database_url, &args.database_url_file) {
            (Some(_), Some(_)) => bail!(
                "database_url (--db, NTSB_DATABASE_URL) and database_url_file (--db-url-file, NTSB_DATABASE_URL_FILE): give one, not both"
            ),
            (Some(url), None) => Some(url.expose().to_string()),
            (None, Some(path)) => Some(read_url_file(path)?),
            (None, None) => None,
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
        match &mut database {
            Database::Postgres(pg) => {
                pg.schema = args.db_schema.clone();
                pg.pool_size = usize::try_from(args.db_pool_size).unwrap_or(usize::MAX);
                pg.statement_timeout = Duration::from_secs(args.db_statement_timeout);
            }
            Database::Sqlite(_) => {
                let postgres_only = [
                    ("db_schema", "db_schema (--db-schema, NTSB_DB_SCHEMA)"),
                    ("db_pool_size", "db_pool_size (--db-pool-size, NTSB_DB_POOL_SIZE)"),
                    (
                        "db_statement_timeout",
                        "db_statement_timeout (--db-statement-timeout, NTSB_DB_STATEMENT_TIMEOUT)",
                    ),
                ];
                if let Some((_, name)) = postgres_only.iter().find(|(id, _)| args.is_given(id)) {
                    bail!("{name}: applies to PostgreSQL only, and the database is SQLite");
                }
            }
        }
        let redis_url = args.redis_url.clone().filter(|u| !u.expose().is_empty());
        let auth = crate::auth_config::AuthSettings::load(&args.auth, &data_dir, |k| std::env::var(k).ok())?;
        Ok(Config {
            data_dir,
            database,
            demo,
            redis_url,
            log_format: args.log_format,
            log_level: args.log_level.clone(),
            auth,
            offsite: args.offsite.clone(),
            sync: args.sync.clone(),
            embedding_model: args.embedding_model.clone(),
            kafka: args.kafka.clone(),
        })
    }

    /// Directory of the store in use (the demo store has its own).
    pub fn store_dir(&self) -> PathBuf {
        if self.demo { self.data_dir.join("demo") } else { self.data_dir.clone() }
    }

    /// Directory of the full-text index.
    pub fn index_dir(&self) -> PathBuf {
        self.store_dir().join("index")
    }

    /// Directory of the dense vectors (beside the full-text index).
    pub fn vectors_dir(&self) -> PathBuf {
        self.store_dir().join("vectors")
    }

    /// Directory of rejects reports.
    pub fn rejects_dir(&self) -> PathBuf {
        self.store_dir().join("rejects")
    }

    /// Directory of the files `ntsb sync` downloaded, and its state.
    pub fn downloads_dir(&self) -> PathBuf {
        self.store_dir().join("downloads")
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
            pool_size: INITIAL_POOL_SIZE,
            statement_timeout: Duration::from_secs(INITIAL_STATEMENT_TIMEOUT_SECS),
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

/// The README's settings table, rendered from the declarations (a test checks
/// the README holds exactly this).
#[cfg(test)]
pub fn settings_table() -> String {
    let mut command = Cli::command();
    command.build();
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::from(
        "| setting (TOML key) | flag | environment | default | what it does |\n| --- | --- | --- | --- | --- |\n",
    );
    for (table, arg) in settings(&command) {
        let long = arg.get_long().map(|l| format!("--{l}")).unwrap_or_default();
        let takes_value = !matches!(arg.get_action(), clap::ArgAction::SetTrue);
        let value = if !takes_value {
            String::new()
        } else if !arg.get_possible_values().is_empty() {
            let names: Vec<String> = arg.get_possible_values().iter().map(|p| p.get_name().to_string()).collect();
            format!(" {}", names.join("|"))
        } else {
            arg.get_value_names().and_then(|v| v.first()).map(|v| format!(" {v}")).unwrap_or_default()
        };
        let flag = format!("{}{long}{value}", if table == Table::Serve { "serve " } else { "" });
        let env = arg.get_env().map(|e| format!("`{}`", e.to_string_lossy())).unwrap_or_default();
        let mut help = arg.get_help().map(ToString::to_string).unwrap_or_default().replace('\n', " ");
        let mut default = String::new();
        if let Some(at) = help.rfind("[default: ") {
            default = help[at + 10..].trim_end_matches(['.', ']']).to_string();
            help = help[..at].trim_end().to_string();
        }
        let declared: Vec<String> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
        let default = match (declared.as_slice(), takes_value) {
            (_, false) => "off".to_string(),
            ([], _) => default,
            (values, _) => format!("`{}`", values.join(",")),
        };
        let key = format!("`{}{}`", table.prefix(), arg.get_id());
        out.push_str(&format!(
            "| {key} | `{}` | {env} | {} | {} |\n",
            cell(&flag),
            cell(&default),
            cell(help.trim_end_matches('.'))
        ));
    }
    out.push_str(
        "| (environment only: a secret) | | `NTSB_JWT_SECRET` | none (development: an ephemeral one, with a warning) \
         | The JWT signing secret, at least 32 bytes; never a flag or a file key (or use `auth.jwt_secret_file`) |\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<Cli> {
        parse(std::iter::once("ntsb").chain(args.iter().copied()))
    }

    fn config(args: &[&str]) -> Result<Config> {
        Config::load(&cli(args)?.global)
    }

    fn error(args: &[&str]) -> String {
        format!("{:#}", config(args).unwrap_err())
    }

    #[test]
    fn defaults_put_everything_under_ntsb_data() {
        let c = config(&["stats"]).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("ntsb-data"));
        assert_eq!(c.database, Database::Sqlite(PathBuf::from("ntsb-data/ntsb.sqlite")));
        assert_eq!((c.log_format, c.log_level.as_str()), (LogFormat::Text, "warn"));
        assert_eq!(c.auth.engine, ntsb_auth::AuthConfig::default(), "the declared defaults are the engine's");
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
        assert!(!format!("{pg:?}").contains("s3cret"), "the password never appears in debug output");
        assert!(matches!(parse_database_url("postgresql://h/db").unwrap(), Database::Postgres(_)));
        let err = parse_database_url("postgres://u:s3cret@h:notaport/db").unwrap_err().to_string();
        assert!(err.contains("database_url") && !err.contains("s3cret"), "{err}");
    }

    #[test]
    fn postgres_settings_are_validated_by_name_and_refused_for_sqlite() {
        let pg = ["--db", "postgres://postgres@127.0.0.1/postgres"];
        let c = config(
            &[&pg[..], &["--db-schema", "replica_1", "--db-pool-size", "20", "--db-statement-timeout", "5", "stats"]]
                .concat(),
        )
        .unwrap();
        let Database::Postgres(pg_settings) = c.database else { panic!("postgres") };
        assert_eq!(
            (pg_settings.schema.as_deref(), pg_settings.pool_size, pg_settings.statement_timeout),
            (Some("replica_1"), 20, Duration::from_secs(5))
        );
        let Database::Postgres(defaults) = config(&[&pg[..], &["stats"]].concat()).unwrap().database else {
            panic!("postgres")
        };
        assert_eq!((defaults.pool_size, defaults.statement_timeout.as_secs(), defaults.schema), (16, 60, None));

        for (flag, value) in [("--db-schema", "bad-name"), ("--db-pool-size", "0"), ("--db-pool-size", "10000")] {
            let err = error(&[&pg[..], &[flag, value, "stats"]].concat());
            assert!(err.contains(flag) && err.contains(value), "{err}");
        }
        assert!(error(&["--db-pool-size", "4", "stats"]).contains("PostgreSQL only"));
    }

    #[test]
    fn the_url_can_come_from_a_secret_file_but_not_twice() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db-url");
        std::fs::write(&file, "\npostgres://ntsb:pw@h/db\n").unwrap();
        let f = file.to_str().unwrap();
        let Database::Postgres(pg) = config(&["--db-url-file", f, "stats"]).unwrap().database else {
            panic!("postgres")
        };
        assert_eq!(pg.url, "postgres://ntsb:pw@h/db");
        assert!(error(&["--db-url-file", f, "--db", "x.db", "stats"]).contains("not both"));
        let missing = dir.path().join("missing");
        assert!(error(&["--db-url-file", missing.to_str().unwrap(), "stats"]).contains("database_url_file"));
    }

    #[test]
    fn the_file_is_below_flags_and_holds_every_table() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ntsb.toml");
        std::fs::write(
            &file,
            "data_dir = \"/srv/ntsb\"\nlog_format = \"json\"\n[auth]\nquota_free = 7\nregistration = \"closed\"\n\
             [serve]\nrequest_timeout = 12\ncors_origins = [\"https://a.example\", \"https://b.example\"]\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let parsed = cli(&["--config", f, "serve"]).unwrap();
        let c = Config::load(&parsed.global).unwrap();
        assert_eq!((c.data_dir.as_path(), c.log_format), (Path::new("/srv/ntsb"), LogFormat::Json));
        assert_eq!(c.auth.engine.quotas.free.daily, 7);
        assert!(!c.auth.engine.registration_open);
        assert!(parsed.global.is_given("log_format") && !parsed.global.is_given("log_level"));
        let crate::cli::Command::Serve(serve) = parsed.command else { panic!("serve") };
        assert_eq!(serve.request_timeout, 12);
        assert_eq!(serve.cors_origins, ["https://a.example", "https://b.example"]);

        let c = config(&["--config", f, "--data-dir", "/flag", "--quota-free", "9", "stats"]).unwrap();
        assert_eq!((c.data_dir.as_path(), c.auth.engine.quotas.free.daily), (Path::new("/flag"), 9));
    }

    #[test]
    fn the_file_refuses_unknown_keys_and_bad_values_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ntsb.toml");
        let f = file.to_str().unwrap().to_string();
        for (text, expected) in [
            ("data_dri = \"/typo\"\n", "unknown key `data_dri`"),
            ("[auth]\nquota_fre = 1\n", "unknown key `auth.quota_fre`"),
            ("[serve]\nlisten = \"nowhere\"\n", "`serve.listen`"),
            ("db_pool_size = 0\n", "`db_pool_size`"),
            ("log_format = \"xml\"\n", "`log_format`"),
            ("[auth]\nlockout_threshold = 0\n", "`auth.lockout_threshold`"),
            ("quota_free = 3\n", "unknown key `quota_free`"),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = error(&["--config", &f, "stats"]);
            assert!(err.contains(expected) && err.contains(&f), "{text}: {err}");
        }
    }

    #[test]
    fn every_setting_has_a_flag_a_variable_and_a_file_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ntsb.toml");
        let command = Cli::command();
        let all = settings(&command);
        assert!(all.len() >= 30, "{} settings", all.len());
        let (mut top, mut auth, mut serve) = (String::new(), String::from("[auth]\n"), String::from("[serve]\n"));
        for (table, arg) in &all {
            let id = arg.get_id();
            assert!(arg.get_long().is_some(), "{id} has a flag");
            assert!(arg.get_env().is_some_and(|e| e.to_string_lossy().starts_with("NTSB_")), "{id} has a variable");
            assert!(arg.is_hide_env_values_set(), "{id}: --help never shows a variable's value");
            let value = match id.as_str() {
                "database_url" | "database_url_file" | "db_schema" | "db_pool_size" | "db_statement_timeout" => {
                    continue;
                }
                "demo" | "production" | "no_dashboard" => "false".to_string(),
                "jwt_secret_file" | "reset_outbox" | "tls_cert" | "tls_key" | "backup_key_file"
                | "sync_metrics_file" | "embedding_model" | "kafka_metrics_file" => {
                    format!("{:?}", dir.path().join("x").display().to_string())
                }
                "jwt_verify_key_files" => {
                    format!("[{:?}]", dir.path().join("x").display().to_string())
                }
                "cors_origins" => "[\"https://a.example\"]".to_string(),
                "trusted_proxies" => "[\"10.0.0.1\"]".to_string(),
                "redis_url" => "\"redis://127.0.0.1:6379\"".to_string(),
                "kafka_brokers" => "[\"127.0.0.1:9092\"]".to_string(),
                "http_redirect_listen" => "\"127.0.0.1:8081\"".to_string(),
                "s3_endpoint" => "\"http://127.0.0.1:9000\"".to_string(),
                "s3_region" => "\"eu-west-1\"".to_string(),
                _ => {
                    let d = arg.get_default_values().first().map(|v| v.to_string_lossy().into_owned());
                    let d = d.unwrap_or_else(|| panic!("{id}: give a sample value in this test"));
                    if d.parse::<i64>().is_ok() { d } else { format!("{d:?}") }
                }
            };
            let line = format!("{id} = {value}\n");
            match table {
                Table::Top => top.push_str(&line),
                Table::Auth => auth.push_str(&line),
                Table::Serve => serve.push_str(&line),
            }
        }
        std::fs::write(&file, format!("{top}{auth}{serve}")).unwrap();
        let parsed = cli(&["--config", file.to_str().unwrap(), "serve"]).unwrap();
        assert!(parsed.global.is_given("redis_url") && parsed.global.is_given("burst_admin"));
    }

    #[test]
    fn demo_never_shares_the_real_store() {
        let c = config(&["--demo", "stats"]).unwrap();
        assert_eq!(c.database, Database::Sqlite(PathBuf::from("ntsb-data/demo/ntsb.sqlite")));
        assert!(config(&["--demo", "--db", "sqlite:x.db", "stats"]).is_err());
    }

    #[test]
    fn secrets_are_checked_at_start_and_never_shown() {
        let c = config(&["--redis-url", "redis://:s3cret@127.0.0.1:6379/0", "stats"]).unwrap();
        assert_eq!(c.redis_url.as_ref().map(Secret::expose), Some("redis://:s3cret@127.0.0.1:6379/0"));
        let err = error(&["--redis-url", "http://:s3cret@cache", "stats"]);
        assert!(err.contains("--redis-url") && !err.contains("s3cret"), "{err}");

        let parsed =
            cli(&["--db", "postgres://ntsb:s3cret@db/ntsb", "--redis-url", "redis://:s3cret@cache:6379", "stats"])
                .unwrap();
        let shown = format!("{:?} {:?}", parsed.global, Config::load(&parsed.global).unwrap());
        assert!(!shown.contains("s3cret") && shown.contains("ntsb:***@db"), "{shown}");
        assert_eq!(redact_url("redis://:pw@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(redact_url("sqlite:x.db"), "sqlite:x.db");
    }

    #[test]
    fn bad_log_settings_name_the_setting() {
        assert!(error(&["--log-format", "xml", "stats"]).contains("--log-format"));
        assert!(error(&["--log-level", "no such=level=x", "stats"]).contains("--log-level"));
    }

    #[test]
    fn help_lists_a_commands_own_options_before_the_global_ones() {
        let mut command = Cli::command();
        command.build();
        let train = command.find_subcommand_mut("ml").unwrap().find_subcommand_mut("train").unwrap();
        let help = train.render_help().to_string();
        let (own, global) = help.split_once("Global options:").expect("a Global options heading");
        assert!(own.contains("--model") && !own.contains("--db"), "{help}");
        assert!(global.contains("--db <URL>") && global.contains("--db-url-file") && !global.contains("--model"));
        assert!(help.contains("Accounts and limits:"));
        assert!(!help.contains("=]"), "no dangling [env: NAME=]: {help}");
    }

    #[test]
    fn the_readme_settings_table_is_the_declared_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let (begin, end) = ("<!-- settings-table:begin -->\n", "<!-- settings-table:end -->");
        let start = readme.find(begin).expect("README has the settings-table markers") + begin.len();
        let stop = readme[start..].find(end).expect("end marker") + start;
        let table = settings_table();
        if readme[start..stop] != table {
            if std::env::var_os("NTSB_BLESS").is_some() {
                std::fs::write(&path, format!("{}{table}{}", &readme[..start], &readme[stop..])).unwrap();
                return;
            }
            panic!(
                "README.md's settings table differs from the declarations in crates/cli/src/cli.rs; \
                 regenerate it with `NTSB_BLESS=1 cargo test -p ntsb-cli readme`.\nExpected:\n{table}"
            );
        }
    }
}
