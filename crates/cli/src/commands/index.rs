//! `ntsb index sync|rebuild|embed` and `ntsb search`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ntsb_retrieval::{EmbedProgress, Embedder, Scope, VectorIndex};
use ntsb_search::SearchOptions;
use serde::Serialize;

use super::{Schema, open_index, open_store};
use crate::cli::{EmbedArgs, IndexCommand, SearchArgs};
use crate::config::Config;
use crate::output::out;

pub fn run(config: &Config, cmd: IndexCommand) -> Result<ExitCode> {
    if let IndexCommand::Embed(args) = cmd {
        return embed(config, args);
    }
    let store = open_store(config, Schema::RequireLatest)?;
    let index = open_index(config)?;
    let outcome = match cmd {
        IndexCommand::Sync => index.sync(store.as_ref())?,
        IndexCommand::Rebuild => index.rebuild(store.as_ref())?,
        IndexCommand::Embed(_) => unreachable!("handled above"),
    };
    out!("indexed {} documents, removed {}; the index holds {}", outcome.indexed, outcome.removed, index.doc_count())?;
    Ok(ExitCode::SUCCESS)
}

pub fn search(config: &Config, args: SearchArgs) -> Result<ExitCode> {
    let store = open_store(config, Schema::RequireLatest)?;
    let index = open_index(config)?;
    index.sync(store.as_ref())?;
    let results =
        index.search(&args.query, &SearchOptions { limit: args.limit as usize, ..SearchOptions::default() })?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&results)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    out!("{} matching events", results.total)?;
    for hit in &results.hits {
        let id = hit.ev_id.as_deref().or(hit.ntsb_no.as_deref()).unwrap_or("?");
        out!("{id}  {}  score {:.2}", hit.event_date.as_deref().unwrap_or("????-??-??"), hit.score)?;
        out!("    {}", hit.snippet.replace("<mark>", "[").replace("</mark>", "]"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The model directory, or an error saying how to name one.
pub fn embedding_model(config: &Config) -> Result<&std::path::Path> {
    config.embedding_model.as_deref().context(
        "no sentence-embedding model: set --embedding-model DIR or NTSB_EMBEDDING_MODEL \
         (deploy/tools.sh unpacks all-MiniLM-L6-v2 into ~/.cache/ntsb-tools/models/all-MiniLM-L6-v2)",
    )
}

/// What `ntsb index embed` did, as `--json` prints it.
#[derive(Debug, Serialize)]
struct EmbedReport {
    /// `done` (caught up with the store) or `stopped` (time limit; run again to resume).
    status: &'static str,
    model: String,
    events_embedded: u64,
    chunks_embedded: u64,
    events_removed: u64,
    seconds: f64,
    chunks_per_second: f64,
    position: u64,
    head: u64,
    index_events: usize,
    index_chunks: usize,
    memory_bytes: usize,
    scope: Scope,
}

/// `ntsb index embed`: brings the vectors up to date with the store.
fn embed(config: &Config, args: EmbedArgs) -> Result<ExitCode> {
    let model = embedding_model(config)?;
    let store = open_store(config, Schema::RequireLatest)?;
    let embedder = Embedder::load(model).context("loading the embedding model")?;
    let scope = args.years.map_or(Scope::default(), |(from, to)| Scope { year_from: Some(from), year_to: Some(to) });
    let dir = config.vectors_dir();
    let vectors = VectorIndex::open_or_create(&dir, &embedder, scope, args.rebuild)
        .with_context(|| format!("opening the vector index {}", dir.display()))?;
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(secs) = args.time_limit {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            stop.store(true, Ordering::Relaxed);
        });
    }
    let started = Instant::now();
    let start_position = vectors.stats().position;
    let terminal = std::io::stderr().is_terminal() && !args.json;
    let mut last = EmbedProgress { position: start_position, ..EmbedProgress::default() };
    let mut last_line = Instant::now();
    let outcome = vectors.sync(store.as_ref(), &embedder, &stop, &mut |p| {
        last = *p;
        // One line every 10 s (a log-friendly progress for a job of hours).
        if last_line.elapsed() >= Duration::from_secs(10) || terminal {
            last_line = Instant::now();
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            let done = p.position.saturating_sub(start_position) as f64;
            let total = p.head.saturating_sub(start_position).max(1) as f64;
            let line = format!(
                "embedding: log position {}/{} ({:.1}%), {} events, {} chunks, {:.1} chunks/s",
                p.position,
                p.head,
                100.0 * done / total,
                p.events,
                p.chunks,
                p.chunks as f64 / secs
            );
            if terminal { eprint!("\r{line}   ") } else { eprintln!("{line}") }
        }
    });
    if terminal {
        eprintln!();
    }
    let (status, progress) = match outcome {
        Ok(p) => ("done", p),
        Err(ntsb_retrieval::Error::Stopped) => ("stopped", last),
        Err(e) => return Err(e).context("embedding"),
    };
    let seconds = started.elapsed().as_secs_f64();
    let stats = vectors.stats();
    let report = EmbedReport {
        status,
        model: embedder.name(),
        events_embedded: progress.events,
        chunks_embedded: progress.chunks,
        events_removed: progress.removed,
        seconds,
        chunks_per_second: progress.chunks as f64 / seconds.max(1e-9),
        position: stats.position,
        head: store.index_log_head()?,
        index_events: stats.events,
        index_chunks: stats.chunks,
        memory_bytes: stats.memory_bytes,
        scope: stats.scope,
    };
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "{}: embedded {} events ({} chunks) in {:.1} s, {:.1} chunks/s; removed {}",
        report.status,
        report.events_embedded,
        report.chunks_embedded,
        report.seconds,
        report.chunks_per_second,
        report.events_removed
    )?;
    out!(
        "the vectors hold {} events, {} chunks ({:.1} MiB in memory), log position {} of {}{}",
        report.index_events,
        report.index_chunks,
        report.memory_bytes as f64 / (1024.0 * 1024.0),
        report.position,
        report.head,
        match (scope.year_from, scope.year_to) {
            (Some(a), Some(b)) => format!(", years {a}-{b} only"),
            _ => String::new(),
        }
    )?;
    if status == "stopped" {
        out!("stopped at the time limit: run `ntsb index embed` again to resume")?;
    }
    Ok(ExitCode::SUCCESS)
}
