//! One module per subcommand; [`run`] dispatches.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use ntsb_search::SearchIndex;
use ntsb_store::Backend;
use ntsb_store::postgres::PostgresStore;
use ntsb_store::sqlite::SqliteStore;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::{Config, Database};

pub mod account;
mod db;
mod demo;
mod documents;
mod follow;
mod index;
mod ingest;
mod inspect;
pub mod ml;
mod rag;
mod serve;
mod sync;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    // Describing the configuration needs no store, and must work when the
    // configuration in force is incomplete.
    if let Command::Config(cmd) = cli.command {
        return config_command(cmd);
    }
    let mut config = Config::load(&cli.global)?;
    if let Command::Serve(args) = &cli.command {
        serve::adjust_config(&mut config, &cli.global, args);
    }
    crate::telemetry::init(&config);
    match cli.command {
        Command::Ingest(args) => ingest::run(&config, args),
        Command::Sync(args) => sync::run(&config, args),
        Command::Demo(args) => demo::run(&config, args),
        Command::Stats(args) => inspect::stats(&config, args.json),
        Command::Loads(args) => inspect::loads(&config, args),
        Command::Revisions(args) => inspect::revisions(&config, args),
        Command::Search(args) => index::search(&config, args),
        Command::Db(cmd) => db::run(&config, cmd),
        Command::Index(cmd) => index::run(&config, cmd),
        Command::Serve(args) => serve::run(&config, args),
        Command::Ml(cmd) => ml::run(&config, cmd),
        Command::Rag(cmd) => rag::run(&config, cmd),
        Command::User(cmd) => account::user(&config, cmd),
        Command::Key(cmd) => account::key(&config, cmd),
        Command::Config(cmd) => config_command(cmd),
    }
}

/// `ntsb config …`.
fn config_command(cmd: ConfigCommand) -> Result<ExitCode> {
    use std::io::Write;

    use clap::CommandFactory;
    match cmd {
        ConfigCommand::Schema => {
            let schema = crate::config_schema::json_schema(&Cli::command());
            writeln!(std::io::stdout().lock(), "{}", serde_json::to_string_pretty(&schema)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How a command wants the schema to be when it opens the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Apply pending migrations first (commands that write data).
    Migrate,
    /// Require the latest schema (commands that only read).
    RequireLatest,
    /// Leave it as it is (the `db` commands).
    AsIs,
}

/// Opens the configured store (SQLite file or PostgreSQL server).
pub fn open_store(config: &Config, schema: Schema) -> Result<Arc<dyn Backend>> {
    let store: Arc<dyn Backend> = match &config.database {
        Database::Sqlite(path) => {
            Arc::new(SqliteStore::open(path).with_context(|| format!("opening the database {}", path.display()))?)
        }
        Database::Postgres(pg) => {
            Arc::new(PostgresStore::connect(pg.store_config()).context("connecting to PostgreSQL")?)
        }
    };
    match schema {
        Schema::Migrate => {
            store.migrate()?;
        }
        Schema::RequireLatest => ntsb_store::require_latest_schema(store.as_ref())?,
        Schema::AsIs => {}
    }
    Ok(store)
}

/// Opens (or creates) the full-text index of the configured store.
pub fn open_index(config: &Config) -> Result<SearchIndex> {
    let dir = config.index_dir();
    SearchIndex::open_or_create(&dir).with_context(|| format!("opening the search index {}", dir.display()))
}
