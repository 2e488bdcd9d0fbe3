//! `ntsb db migrate|rollback|status|verify|backup|restore`.

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::{Schema, open_store};
use crate::cli::DbCommand;
use crate::config::Config;
use crate::output::out;

pub fn run(config: &Config, cmd: DbCommand) -> Result<ExitCode> {
    let schema = if matches!(cmd, DbCommand::Verify { .. }) { Schema::RequireLatest } else { Schema::AsIs };
    let store = open_store(config, schema)?;
    match cmd {
        DbCommand::Migrate => {
            let applied = store.migrate()?;
            if applied.is_empty() {
                out!("schema is up to date")?;
            }
            for v in applied {
                out!("applied migration {v}")?;
            }
        }
        DbCommand::Rollback { steps } => {
            let undone = store.rollback(steps)?;
            if undone.is_empty() {
                out!("nothing to roll back")?;
            }
            for v in undone {
                out!("rolled back migration {v}")?;
            }
        }
        DbCommand::Verify { json } => return verify(store.as_ref(), json),
        DbCommand::Backup { path } => {
            let started = std::time::Instant::now();
            let manifest = ntsb_store::backup::backup(store.as_ref(), &path)
                .with_context(|| format!("backing up to {}", path.display()))?;
            out!(
                "backed up {} rows in {} tables (schema version {}) to {} in {:.1} s",
                manifest.total_rows(),
                manifest.tables.len(),
                manifest.schema_version,
                path.display(),
                started.elapsed().as_secs_f64()
            )?;
        }
        DbCommand::Restore { path } => {
            let started = std::time::Instant::now();
            let manifest = ntsb_store::backup::restore(store.as_ref(), &path)
                .with_context(|| format!("restoring from {}", path.display()))?;
            out!(
                "restored {} rows in {} tables from {} (taken {} from {}), checksums verified, in {:.1} s",
                manifest.total_rows(),
                manifest.tables.len(),
                path.display(),
                manifest.created_at,
                manifest.backend,
                started.elapsed().as_secs_f64()
            )?;
        }
        DbCommand::Status => {
            out!("{:>7}  {:<28}  applied", "version", "name")?;
            for m in store.migration_status()? {
                out!("{:>7}  {:<28}  {}", m.version, m.name, m.applied_at.as_deref().unwrap_or("pending"))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `ntsb db verify`: integrity problems (exit 1 if any), then per-table rows and
/// checksums, which are equal for two stores holding the same data.
fn verify(store: &dyn ntsb_store::Store, json: bool) -> Result<ExitCode> {
    let problems = store.check_integrity()?;
    let tables = store.content_checksums()?;
    if json {
        let out = serde_json::json!({ "ok": problems.is_empty(), "problems": problems, "tables": tables });
        out!("{}", serde_json::to_string_pretty(&out)?)?;
    } else {
        out!("{:<24} {:>10}  sha256", "table", "rows")?;
        for t in &tables {
            out!("{:<24} {:>10}  {}", t.table, t.rows, t.sha256)?;
        }
        for p in &problems {
            out!("problem: {p}")?;
        }
        out!("{}", if problems.is_empty() { "integrity: ok" } else { "integrity: FAILED" })?;
    }
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
