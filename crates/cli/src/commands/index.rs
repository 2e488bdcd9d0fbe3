//! `ntsb index sync|rebuild` and `ntsb search`.

use std::process::ExitCode;

use anyhow::Result;
use ntsb_search::SearchOptions;

use super::{Schema, open_index, open_store};
use crate::cli::{IndexCommand, SearchArgs};
use crate::config::Config;
use crate::output::out;

pub fn run(config: &Config, cmd: IndexCommand) -> Result<ExitCode> {
    let store = open_store(config, Schema::RequireLatest)?;
    let index = open_index(config)?;
    let outcome = match cmd {
        IndexCommand::Sync => index.sync(store.as_ref())?,
        IndexCommand::Rebuild => index.rebuild(store.as_ref())?,
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
