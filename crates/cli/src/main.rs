//! The `ntsb` command. Parses arguments, runs the command, and turns any error
//! into one clear line on stderr and a non-zero exit code.

use std::process::ExitCode;

mod auth_config;
mod cli;
mod commands;
mod config;
mod config_schema;
#[cfg(test)]
mod env_example;
mod offsite_config;
mod output;
mod telemetry;

/// mimalloc instead of the system allocator: scoring a batch and reading the
/// store allocate many small, short-lived strings from several threads, and
/// glibc's malloc spent about a tenth of the server's CPU on them
/// (docs/PERFORMANCE.md, "How we got here", machine learning).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = match config::parse(std::env::args_os()) {
        Ok(args) => args,
        // Usage errors, --help and --version print as clap prints them.
        Err(err) => match err.downcast::<clap::Error>() {
            Ok(usage) => usage.exit(),
            Err(err) => {
                eprintln!("ntsb: {err:#}");
                return ExitCode::from(1);
            }
        },
    };
    match commands::run(args) {
        Ok(code) => code,
        // `ntsb … | head`: the reader has what it wanted.
        Err(err) if output::is_closed_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ntsb: {err:#}");
            ExitCode::from(1)
        }
    }
}
