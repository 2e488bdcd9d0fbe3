//! `ntsb demo`: load the deterministic synthetic sample into the demo store.

use std::process::ExitCode;

use anyhow::Result;
use ntsb_load::{LoadOptions, Loader};
use ntsb_model::SourceKind;

use super::{Schema, open_index, open_store};
use crate::cli::DemoArgs;
use crate::config::Config;
use crate::output::{self, out};

pub fn run(config: &Config, args: DemoArgs) -> Result<ExitCode> {
    // The demo always goes to its own store, whatever --demo says, so it can
    // never mix into a real database.
    let mut config = config.clone();
    if !config.demo {
        config = Config { demo: true, database: demo_database(&config), ..config };
    }
    let store = open_store(&config, Schema::Migrate)?;
    let index = open_index(&config)?;
    let loader = Loader::new(store.as_ref(), Some(&index), LoadOptions::new(config.rejects_dir()));
    let label = format!("synthetic demo sample (seed {}, {} events)", args.seed, args.events);
    let records = ntsb_ingest::demo::generate(args.seed, args.events as usize);
    let mut progress = output::progress();
    let report = loader.load_records(&label, SourceKind::Demo, records, progress.as_mut())?;
    drop(progress);
    if args.json {
        output::print_report_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    output::print_report(&report)?;
    out!("demo store: {}  (every record is synthetic; serve or query it with --demo)", config.store_dir().display())?;
    Ok(ExitCode::SUCCESS)
}

fn demo_database(config: &Config) -> crate::config::Database {
    crate::config::Database::Sqlite(config.data_dir.join("demo").join("ntsb.sqlite"))
}
