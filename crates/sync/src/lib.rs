//! `ntsb sync`: keeps a store current with NTSB's published files.
//!
//! A [`Syncer`] reads the source, a download page whose links name the files
//! (every linked file with an extension the readers know is fetched; see
//! [`links`]) or the URL of one file, and for each file:
//!
//! 1. sends a conditional GET (`If-None-Match` / `If-Modified-Since` from the
//!    validators remembered for that URL in [`state`]); a `304` ends there;
//! 2. checks every request, redirect and resolved address against the
//!    [`Policy`] (host allowlist, no private or loopback addresses unless they
//!    are listed themselves);
//! 3. streams the body into a temporary file in `DATA_DIR/downloads/.partial`,
//!    refusing it past the size limit or short of its `Content-Length`, hashing
//!    it (SHA-256) on the way;
//! 4. recognises it by content as `ntsb ingest` does (a corrupt archive or an
//!    unknown format goes no further), moves it into `DATA_DIR/downloads` with
//!    one rename, and loads it through [`ntsb_load::Loader`], the code path of
//!    `ntsb ingest`, unless the store's ledger already holds a completed load
//!    of the same checksum;
//! 5. reads what changed from the store's change log (events added, fields
//!    updated, their revisions) and counts the run ([`metrics`]).
//!
//! No HTTP server types and no SQL here: the client is `reqwest` (blocking,
//! rustls), the store is reached through its traits.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use ntsb_sync::{Client, Policy, SyncOptions, Syncer};
//! let store = ntsb_store::sqlite::SqliteStore::open(std::path::Path::new("ntsb-data/ntsb.sqlite"))?;
//! let client = Client::new(Policy::new(ntsb_sync::DEFAULT_ALLOWED_HOSTS)?, 2 << 30)?;
//! let options = SyncOptions {
//!     source: ntsb_sync::DEFAULT_SOURCE.parse()?,
//!     downloads_dir: "ntsb-data/downloads".into(),
//!     load: ntsb_load::LoadOptions::new("ntsb-data/rejects".into()),
//!     show_revisions: 20,
//! };
//! let report = Syncer::new(&store, None, client, options).run(&mut ntsb_load::NoProgress)?;
//! println!("{}: {} events added", report.outcome.label(), report.changes.events_created);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod engine;
mod error;
mod fetch;
pub mod links;
pub mod metrics;
pub mod policy;
pub mod state;

use std::time::Duration;

pub use engine::{ChangeSummary, FileResult, Outcome, PARTIAL_DIR, SyncOptions, SyncReport, SyncedFile, Syncer};
pub use error::{Error, Result};
pub use fetch::{Client, MAX_REDIRECTS, Validators};
pub use policy::{DEFAULT_ALLOWED_HOSTS, Policy};

/// NTSB's public download page of the aviation database (`avall.zip`, the
/// older databases and the monthly update files).
pub const DEFAULT_SOURCE: &str = "https://data.ntsb.gov/avdata";

/// Parses an interval such as `24h`, `30m`, `1d`, `90s` or `1h30m` (at least a
/// minute: a scheduler hammering NTSB's servers is refused).
pub fn parse_interval(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("{text:?}: an interval like 24h, 30m, 1d or 1h30m");
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
    }
    if !number.is_empty() {
        return Err(bad());
    }
    if total < 60 {
        return Err(format!("{text:?}: at least 1m between runs"));
    }
    if total > 366 * 86_400 {
        return Err(format!("{text:?}: at most 366d between runs"));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_units_and_bounds() {
        assert_eq!(parse_interval("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_interval("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_interval("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_interval("90s"), Ok(Duration::from_secs(90)));
        for bad in ["", "24", "h", "10s", "5x", "-1h", "400d", "99999999999999999999h"] {
            assert!(parse_interval(bad).is_err(), "{bad:?}");
        }
    }
}
