//! Progress reporting hooks, so the CLI can draw a bar on a terminal and print
//! plain lines elsewhere without the loader knowing which.

use std::path::Path;

use ntsb_store::LoadSummary;

/// Receives progress events from a load.
pub trait Progress {
    /// A file is about to be read.
    fn file_started(&mut self, path: &Path, format: &str, bytes: u64);
    /// More records of the current file were processed (running totals, and
    /// the bytes read when the reader can tell).
    fn advanced(&mut self, records: u64, rejects: u64, bytes: Option<u64>);
    /// The current file is done.
    fn file_finished(&mut self, path: &Path, summary: &LoadSummary);
    /// The index is being brought up to date.
    fn indexing(&mut self) {}
}

/// Ignores progress (tests, library callers).
pub struct NoProgress;

impl Progress for NoProgress {
    fn file_started(&mut self, _: &Path, _: &str, _: u64) {}
    fn advanced(&mut self, _: u64, _: u64, _: Option<u64>) {}
    fn file_finished(&mut self, _: &Path, _: &LoadSummary) {}
}
