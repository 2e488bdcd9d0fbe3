//! Loading NTSB sources into a store.
//!
//! This is the engine behind `ntsb ingest` and `ntsb demo`, usable without the
//! CLI: [`Loader::load_paths`] discovers files ([`ntsb_ingest::discover`]), reads
//! each through its streaming reader, writes records in transactional batches
//! through the [`ntsb_store::Store`] interface, records every load in the ledger
//! with per-table counts, writes a rejects report, and finally brings the
//! full-text index in step with the store.
//!
//! A load killed at any point (even `kill -9`) leaves the store consistent:
//! every batch is one transaction, the ledger entry stays `running`, and the
//! index catches up from the store's queue on the next run. Running the same
//! command again completes the load; records already stored count as unchanged.
#![deny(missing_docs)]

mod error;
mod loader;
mod progress;
mod rejects;

pub use error::{Error, Result};
pub use loader::{FileOutcome, LoadOptions, LoadReport, Loader};
pub use progress::{NoProgress, Progress};
