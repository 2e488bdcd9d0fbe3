//! `ntsb db migrate|rollback|status`.

use std::process::ExitCode;

use anyhow::Result;

use super::{Schema, open_store};
use crate::cli::DbCommand;
use crate::config::Config;

pub fn run(config: &Config, cmd: DbCommand) -> Result<ExitCode> {
    let store = open_store(config, Schema::AsIs)?;
    match cmd {
        DbCommand::Migrate => {
            let applied = store.migrate()?;
            if applied.is_empty() {
                println!("schema is up to date");
            }
            for v in applied {
                println!("applied migration {v}");
            }
        }
        DbCommand::Rollback { steps } => {
            let undone = store.rollback(steps)?;
            if undone.is_empty() {
                println!("nothing to roll back");
            }
            for v in undone {
                println!("rolled back migration {v}");
            }
        }
        DbCommand::Status => {
            println!("{:>7}  {:<28}  applied", "version", "name");
            for m in store.migration_status()? {
                println!("{:>7}  {:<28}  {}", m.version, m.name, m.applied_at.as_deref().unwrap_or("pending"));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
