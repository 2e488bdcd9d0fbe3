//! `.env.example` at the repository root lists every environment variable the
//! command reads: each `env = "NTSB_…"` of every subcommand's arguments, and the
//! variables read directly. This test keeps the two from drifting apart.

use std::collections::BTreeSet;

use clap::CommandFactory;

/// Variables read without a flag (secrets that must not be flags).
const READ_DIRECTLY: [&str; 1] = ["NTSB_JWT_SECRET"];

fn variables(cmd: &clap::Command, out: &mut BTreeSet<String>) {
    for arg in cmd.get_arguments() {
        if let Some(env) = arg.get_env() {
            out.insert(env.to_string_lossy().into_owned());
        }
    }
    for sub in cmd.get_subcommands() {
        variables(sub, out);
    }
}

#[test]
fn env_example_lists_every_variable() {
    let mut read = BTreeSet::new();
    variables(&crate::cli::Cli::command(), &mut read);
    read.extend(READ_DIRECTLY.iter().map(|s| s.to_string()));
    read.extend(crate::offsite_config::CREDENTIAL_VARIABLES.iter().map(|s| s.to_string()));
    assert!(read.len() > 30, "{read:?}");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let listed: BTreeSet<String> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect();
    let missing: Vec<&String> = read.difference(&listed).collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
    let unknown: Vec<&String> = listed.difference(&read).collect();
    assert!(unknown.is_empty(), ".env.example lists variables nothing reads: {unknown:?}");
}
