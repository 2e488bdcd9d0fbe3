//! `ntsb sync`: download NTSB's published files and load what is new, once or
//! `--every` interval; print what changed; count the run (state file, and the
//! node-exporter textfile of `--sync-metrics-file`).
//!
//! Exit codes of a single run: 0 when it ended `updated` or `unchanged`, 2 when
//! `partial` (some files failed, the rest loaded, as `ntsb ingest`), 1 when
//! `failed`. With `--every` the command runs until stopped; each run's outcome
//! is in its summary, its log line and the metrics file.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use ntsb_load::LoadOptions;
use ntsb_sync::{Client, FileResult, Outcome, Policy, SyncOptions, SyncReport, Syncer};
use serde::Serialize;

use super::{Schema, open_index, open_store};
use crate::cli::SyncArgs;
use crate::config::Config;
use crate::output::{self, out};

pub fn run(config: &Config, args: SyncArgs) -> Result<ExitCode> {
    if config.demo {
        bail!("--demo: the demo store holds only the synthetic sample; sync into the real store");
    }
    let settings = &config.sync;
    let policy = Policy::new(&settings.sync_allowed_hosts).context("sync_allowed_hosts (--allow-host)")?;
    let store = open_store(config, Schema::Migrate)?;
    let index = open_index(config)?;
    let mut load = LoadOptions::new(config.rejects_dir());
    load.batch_size = args.batch_size as usize;
    let options = SyncOptions {
        source: settings.sync_source.clone(),
        downloads_dir: config.downloads_dir(),
        load,
        show_revisions: args.show_revisions as usize,
    };
    let max_bytes = settings.sync_max_mb.saturating_mul(1 << 20);
    let syncer = Syncer::new(store.as_ref(), Some(&index), Client::new(policy, max_bytes)?, options);
    loop {
        let mut progress = output::progress();
        let run = syncer.run(progress.as_mut());
        drop(progress);
        let report = match (run, args.every) {
            (Ok(report), _) => report,
            (Err(e), None) => return Err(e.into()),
            // Under --every, a run that could not even save its state is logged and
            // the schedule goes on (the next run reads the state again).
            (Err(e), Some(every)) => {
                tracing::error!(error = %e, "sync failed");
                eprintln!("ntsb: sync: {e}");
                std::thread::sleep(every);
                continue;
            }
        };
        let outcome = report.outcome;
        match outcome {
            Outcome::Updated | Outcome::Unchanged => tracing::info!(
                source = %report.source, outcome = outcome.label(), events_created = report.changes.events_created,
                events_updated = report.changes.events_updated, rejects = report.rejects, bytes = report.bytes,
                "sync finished"
            ),
            Outcome::Partial | Outcome::Failed => tracing::warn!(
                source = %report.source, outcome = outcome.label(), error = report.error.as_deref().unwrap_or(""),
                "sync finished"
            ),
        }
        if let Some(path) = &settings.sync_metrics_file
            && let Err(e) = ntsb_sync::metrics::write_textfile(path, &report.state.counters)
        {
            let e =
                anyhow::Error::from(e).context(format!("sync_metrics_file (--sync-metrics-file) {}", path.display()));
            if args.every.is_none() {
                return Err(e);
            }
            tracing::error!(error = format!("{e:#}"), "sync metrics file not written");
        }
        if args.json {
            print_json(&report)?
        } else {
            print(&report)?
        }
        let Some(every) = args.every else {
            return Ok(match outcome {
                Outcome::Updated | Outcome::Unchanged => ExitCode::SUCCESS,
                Outcome::Partial => ExitCode::from(2),
                Outcome::Failed => ExitCode::from(1),
            });
        };
        let next = chrono::Utc::now() + chrono::Duration::from_std(every).unwrap_or(chrono::Duration::days(1));
        eprintln!("next sync at {}", next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        std::thread::sleep(every);
    }
}

fn result_text(r: &FileResult) -> String {
    match r {
        FileResult::Loaded => "loaded".into(),
        FileResult::NotModified => "not modified (304)".into(),
        FileResult::AlreadyLoaded => "already loaded (same SHA-256 in the ledger)".into(),
        FileResult::Unrecognised(why) => format!("not loaded: {why}"),
        FileResult::Failed(why) => format!("FAILED: {why}"),
    }
}

fn print(report: &SyncReport) -> std::io::Result<()> {
    out!("sync from {}: {}", report.source, report.outcome.label())?;
    if let Some(e) = &report.error {
        out!("error: {e}")?;
    }
    for f in &report.files {
        let name = if f.name.is_empty() { f.url.as_str() } else { f.name.as_str() };
        let size = if f.bytes > 0 { format!(", {} bytes", f.bytes) } else { String::new() };
        let sha = if f.sha256.is_empty() { String::new() } else { format!(", sha256 {}", &f.sha256) };
        out!("  {name}: {}{size}{sha}", result_text(&f.result))?;
    }
    if let Some(load) = &report.load {
        out!()?;
        output::print_report(load)?;
    }
    let c = &report.changes;
    out!()?;
    out!(
        "events added {}, events updated {} ({} field change(s)), events deleted {}, records rejected {}; {} bytes downloaded in {:.1} s",
        c.events_created,
        c.events_updated,
        c.fields.values().sum::<u64>(),
        c.events_deleted,
        report.rejects,
        report.bytes,
        report.duration_secs
    )?;
    if !c.fields.is_empty() {
        out!("fields updated (events):")?;
        for (field, n) in &c.fields {
            out!("  {field:<40} {n:>8}")?;
        }
    }
    if !c.revisions.is_empty() {
        out!("revisions (first updated events):")?;
        for (event, r) in &c.revisions {
            out!(
                "  {event} {}[{}].{}: {} -> {} (load {})",
                r.table,
                r.row_key,
                r.field,
                r.old_value.as_deref().unwrap_or("null"),
                r.new_value.as_deref().unwrap_or("null"),
                r.load.0
            )?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonFile<'a> {
    url: &'a str,
    name: &'a str,
    result: &'static str,
    reason: Option<&'a str>,
    bytes: u64,
    sha256: &'a str,
    format: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonRevision<'a> {
    event: &'a str,
    table: &'a str,
    row_key: &'a str,
    field: &'a str,
    old_value: Option<&'a str>,
    new_value: Option<&'a str>,
    load: i64,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    source: &'a str,
    outcome: &'static str,
    error: Option<&'a str>,
    files: Vec<JsonFile<'a>>,
    events_created: u64,
    events_updated: u64,
    events_deleted: u64,
    fields_updated: &'a std::collections::BTreeMap<String, u64>,
    revisions: Vec<JsonRevision<'a>>,
    rejects: u64,
    rejects_report: Option<String>,
    bytes: u64,
    duration_secs: f64,
}

fn print_json(report: &SyncReport) -> Result<()> {
    let c = &report.changes;
    let json = JsonReport {
        source: &report.source,
        outcome: report.outcome.label(),
        error: report.error.as_deref(),
        files: report
            .files
            .iter()
            .map(|f| JsonFile {
                url: &f.url,
                name: &f.name,
                result: f.result.label(),
                reason: match &f.result {
                    FileResult::Unrecognised(r) | FileResult::Failed(r) => Some(r.as_str()),
                    _ => None,
                },
                bytes: f.bytes,
                sha256: &f.sha256,
                format: f.format.as_deref(),
            })
            .collect(),
        events_created: c.events_created,
        events_updated: c.events_updated,
        events_deleted: c.events_deleted,
        fields_updated: &c.fields,
        revisions: c
            .revisions
            .iter()
            .map(|(event, r)| JsonRevision {
                event,
                table: &r.table,
                row_key: &r.row_key,
                field: &r.field,
                old_value: r.old_value.as_deref(),
                new_value: r.new_value.as_deref(),
                load: r.load.0,
            })
            .collect(),
        rejects: report.rejects,
        rejects_report: report.load.as_ref().and_then(|l| l.rejects_report.as_ref()).map(|p| p.display().to_string()),
        bytes: report.bytes,
        duration_secs: report.duration_secs,
    };
    out!("{}", serde_json::to_string_pretty(&json)?)?;
    Ok(())
}
