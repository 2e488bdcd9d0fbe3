//! Helpers shared by the tests of every crate.
//!
//! The real NTSB corpus lives beside the repository in `../shared/data`. It is
//! present in CI and on team machines, absent on a newcomer's. Tests that need it
//! call [`shared_data`] and return early, printing the reason, when it is missing.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// Path of the shared NTSB corpus (`../shared/data` from the repository root), or
/// `NTSB_SHARED_DATA` when set. `None`, with a printed reason, when it is absent.
pub fn shared_data(test: &str) -> Option<PathBuf> {
    let dir =
        std::env::var_os("NTSB_SHARED_DATA").map(PathBuf::from).unwrap_or_else(|| repo_root().join("../shared/data"));
    if dir.join("ntsb").is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED {test}: the shared NTSB corpus is not at {} (set NTSB_SHARED_DATA)", dir.display());
        None
    }
}

/// Path of a file in the repository's own test fixtures (`tests/fixtures`).
pub fn fixture(relative: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(relative)
}
