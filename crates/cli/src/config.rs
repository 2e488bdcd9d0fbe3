//! The one typed configuration, layered: defaults < TOML file < `NTSB_*`
//! environment < flags, validated at start-up with messages that name the
//! setting.

use std::path::{Path, PathBuf};

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
}

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
        let url = args.database_url.clone().or(file.database_url);
        let demo = args.demo;
        let database = match (&url, demo) {
            (Some(_), true) => {
                bail!("--demo uses its own store under DATA_DIR/demo; do not combine it with --db / NTSB_DATABASE_URL")
            }
            (Some(url), false) => parse_database_url(url)?,
            (None, true) => Database::Sqlite(data_dir.join("demo").join("ntsb.sqlite")),
            (None, false) => Database::Sqlite(data_dir.join("ntsb.sqlite")),
        };
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
        Ok(Config { data_dir, database, demo, log_format, log_level, auth })
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

fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {}", path.display(), e.message()))
}

/// Parses `--db`: `sqlite:PATH`, `sqlite://PATH`, or a bare file path.
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
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        bail!("database_url (--db, NTSB_DATABASE_URL): PostgreSQL is not supported by this build yet; use sqlite:PATH");
    }
    if let Some((scheme, _)) = url.split_once("://") {
        bail!("database_url (--db, NTSB_DATABASE_URL): unsupported scheme {scheme:?}; use sqlite:PATH");
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
    fn bad_log_settings_name_the_setting() {
        let mut a = args();
        a.log_format = Some("xml".into());
        assert!(Config::load(&a).unwrap_err().to_string().contains("log_format"));
    }
}
