//! `ntsb ingest PATH...`: load files and directories, print a summary table.

use std::process::ExitCode;

use anyhow::{Result, bail};
use ntsb_load::{LoadOptions, Loader};

use super::{Schema, open_index, open_store};
use crate::cli::IngestArgs;
use crate::config::Config;
use crate::output;

pub fn run(config: &Config, args: IngestArgs) -> Result<ExitCode> {
    if config.demo {
        bail!("--demo: the demo store holds only the synthetic sample; load it with `ntsb demo`");
    }
    for path in &args.paths {
        if !path.exists() {
            bail!("{}: no such file or directory", path.display());
        }
    }
    let store = open_store(config, Schema::Migrate)?;
    let index = open_index(config)?;
    let mut options = LoadOptions::new(config.rejects_dir());
    options.batch_size = args.batch_size as usize;
    options.forced_format = args.format.clone();
    let loader = Loader::new(store.as_ref(), Some(&index), options);
    let mut progress = output::progress();
    let report = loader.load_paths(&args.paths, progress.as_mut())?;
    drop(progress);
    if args.json {
        output::print_report_json(&report)?;
    } else {
        output::print_report(&report)?;
    }
    Ok(if report.failed() { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
