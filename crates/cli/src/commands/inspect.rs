//! Read-only commands: `ntsb stats`, `ntsb loads`, `ntsb revisions`.

use std::process::ExitCode;

use anyhow::Result;

use super::{Schema, open_store};
use crate::cli::{LoadsArgs, RevisionsArgs};
use crate::config::Config;
use crate::output::out;

pub fn stats(config: &Config, json: bool) -> Result<ExitCode> {
    let store = open_store(config, Schema::RequireLatest)?;
    let stats = store.stats()?;
    if json {
        out!("{}", serde_json::to_string_pretty(&stats)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if store.content_kind()? == Some(true) {
        out!("store: SYNTHETIC DEMO DATA (not real NTSB records)")?;
    }
    out!("{:<24} {:>10}", "table", "rows")?;
    for (table, rows) in &stats.tables {
        out!("{table:<24} {rows:>10}")?;
    }
    out!()?;
    out!(
        "events from {} to {}",
        stats.first_event.as_deref().unwrap_or("-"),
        stats.last_event.as_deref().unwrap_or("-")
    )?;
    out!("events with a narrative: {}", stats.events_with_narrative)?;
    out!("events with a probable cause: {}", stats.events_with_probable_cause)?;
    Ok(ExitCode::SUCCESS)
}

pub fn loads(config: &Config, args: LoadsArgs) -> Result<ExitCode> {
    let store = open_store(config, Schema::RequireLatest)?;
    let loads = store.loads(args.limit)?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&loads)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "{:>5}  {:<20}  {:>9} {:>9} {:>9} {:>8} {:>9}  {:<10}  path",
        "id",
        "started",
        "inserted",
        "updated",
        "unchanged",
        "rejected",
        "ms",
        "status"
    )?;
    for l in loads {
        let c = l.counts;
        out!(
            "{:>5}  {:<20}  {:>9} {:>9} {:>9} {:>8} {:>9}  {:<10}  {}",
            l.id.0,
            l.started_at.get(..19).unwrap_or(&l.started_at),
            c.inserted,
            c.updated,
            c.unchanged,
            c.rejected,
            l.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
            l.status.get(..10).unwrap_or(&l.status),
            l.source.path
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn revisions(config: &Config, args: RevisionsArgs) -> Result<ExitCode> {
    let store = open_store(config, Schema::RequireLatest)?;
    let revisions = store.revisions(&args.event)?;
    if revisions.is_empty() && store.event_detail(args.event.trim())?.is_none() {
        // Like the API's 404: an unknown event is an error, not an empty history.
        anyhow::bail!("event {:?} does not exist (no event has this ev_id or NTSB number)", args.event);
    }
    if args.json {
        out!("{}", serde_json::to_string_pretty(&revisions)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if revisions.is_empty() {
        out!("no recorded changes for {}", args.event)?;
    }
    for r in revisions {
        out!(
            "{}  load {}  {}[{}].{}: {} -> {}  ({})",
            r.changed_at,
            r.load.0,
            r.table,
            r.row_key,
            r.field,
            r.old_value.as_deref().unwrap_or("null"),
            r.new_value.as_deref().unwrap_or("null"),
            r.source
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
