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
        DbCommand::Backup { path: Some(path), .. } => {
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
        DbCommand::Backup { path: None, to, prune, dry_run } => {
            let to = to.context("give a backup directory or --to s3://BUCKET/PREFIX")?;
            offsite_backup(config, store.as_ref(), &to, prune, dry_run)?;
        }
        DbCommand::Restore { path: Some(path), .. } => {
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
        DbCommand::Restore { path: None, from } => {
            let from = from.context("give a backup directory or --from s3://BUCKET/PREFIX")?;
            offsite_restore(config, store.as_ref(), &from)?;
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

/// Where the temporary backup directory and archive go: `TMPDIR` (a scratch
/// volume in Kubernetes), else the system's temporary directory.
fn work_dir() -> std::path::PathBuf {
    std::env::temp_dir()
}

/// `ntsb db backup --to s3://…`: upload an encrypted archive, then `--prune`.
fn offsite_backup(config: &Config, store: &dyn ntsb_store::Store, to: &str, prune: bool, dry_run: bool) -> Result<()> {
    let location = ntsb_offsite::Location::parse(to)?;
    let key = config.offsite.key()?;
    let settings = config.offsite.s3_settings(|k| std::env::var(k).ok())?;
    let client = ntsb_offsite::S3Client::new(&settings, &location)?;
    let started = std::time::Instant::now();
    let uploaded = ntsb_offsite::backup_to(store, &client, &location, &key, chrono::Utc::now(), &work_dir())
        .with_context(|| format!("backing up to {location}"))?;
    out!(
        "backed up {} rows in {} tables (schema version {}) to s3://{}/{}: {} bytes encrypted with key id {}, in {:.1} s",
        uploaded.manifest.total_rows(),
        uploaded.manifest.tables.len(),
        uploaded.manifest.schema_version,
        location.bucket,
        uploaded.key,
        uploaded.bytes,
        key.id_hex(),
        started.elapsed().as_secs_f64()
    )?;
    if prune {
        let policy = config.offsite.retention();
        let selection =
            ntsb_offsite::prune(&client, &location, policy, dry_run).with_context(|| format!("pruning {location}"))?;
        let verb = if dry_run { "would delete" } else { "deleted" };
        for kept in &selection.keep {
            out!("kept {} ({})", kept.name, kept.reason)?;
        }
        for name in &selection.delete {
            out!("{verb} {name}")?;
        }
        out!(
            "prune (newest of each of {} hours and {} days): kept {}, {verb} {}",
            policy.hourly,
            policy.daily,
            selection.keep.len(),
            selection.delete.len()
        )?;
    }
    Ok(())
}

/// `ntsb db restore --from s3://…[/NAME]`.
fn offsite_restore(config: &Config, store: &dyn ntsb_store::Store, from: &str) -> Result<()> {
    let (location, name) = ntsb_offsite::parse_source(from)?;
    let key = config.offsite.key()?;
    let settings = config.offsite.s3_settings(|k| std::env::var(k).ok())?;
    let client = ntsb_offsite::S3Client::new(&settings, &location)?;
    let started = std::time::Instant::now();
    let restored = ntsb_offsite::restore_from(store, &client, &location, name.as_deref(), &key, &work_dir())
        .with_context(|| format!("restoring from {from}"))?;
    out!(
        "restored {} rows in {} tables from s3://{}/{} ({} bytes, taken {} from {}), decrypted, authenticated and checksums verified, in {:.1} s",
        restored.manifest.total_rows(),
        restored.manifest.tables.len(),
        location.bucket,
        restored.key,
        restored.bytes,
        restored.manifest.created_at,
        restored.manifest.backend,
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
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
