//! What a sync remembers between runs (`DATA_DIR/downloads/sync-state.json`):
//! per URL the validators of the last file handled (`ETag`, `Last-Modified`)
//! with its SHA-256 and name, and the counters the metrics report, so they
//! keep growing across runs of a one-shot `ntsb sync` (a CronJob, a timer).
//!
//! Validators are remembered only once a file has been handled completely
//! (loaded, or found already loaded); a download or load that failed is
//! requested in full again next time. Losing the file costs one full download
//! per URL, never a second load: the store's ledger knows every checksum loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The state file's name inside the downloads directory.
pub const STATE_FILE: &str = "sync-state.json";

/// Everything remembered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Per URL (without credentials).
    #[serde(default)]
    pub urls: BTreeMap<String, Remembered>,
    /// Counters over every run.
    #[serde(default)]
    pub counters: Counters,
}

/// What is remembered of one URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// `ETag` of the last response handled.
    pub etag: Option<String>,
    /// `Last-Modified` of the last response handled.
    pub last_modified: Option<String>,
    /// SHA-256 (hex) of its body.
    pub sha256: String,
    /// Bytes.
    pub bytes: u64,
    /// Name in the downloads directory.
    pub file: String,
    /// RFC 3339 time it was fetched.
    pub fetched_at: String,
}

/// Counters over every run (what `ntsb_sync_*_total` report).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Runs per outcome (`updated`, `unchanged`, `partial`, `failed`).
    #[serde(default)]
    pub runs: BTreeMap<String, u64>,
    /// Files per result (`loaded`, `not_modified`, `already_loaded`, `unrecognised`, `failed`).
    #[serde(default)]
    pub files: BTreeMap<String, u64>,
    /// Body bytes downloaded.
    #[serde(default)]
    pub bytes: u64,
    /// Events created by syncs.
    #[serde(default)]
    pub events_created: u64,
    /// Events updated by syncs.
    #[serde(default)]
    pub events_updated: u64,
    /// Records rejected by syncs.
    #[serde(default)]
    pub rejects: u64,
    /// Unix time of the last run's end.
    #[serde(default)]
    pub last_run: i64,
    /// Unix time of the last run that ended `updated` or `unchanged`.
    #[serde(default)]
    pub last_success: i64,
    /// Seconds the last run took.
    #[serde(default)]
    pub last_duration: f64,
}

impl State {
    /// The state in `dir`, or an empty one when there is none yet.
    pub fn load(dir: &Path) -> Result<State> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::io(&path, format!("unreadable state: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Writes the state to `dir` atomically (a temporary file renamed over it).
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join(STATE_FILE);
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::io(&path, e))?;
        write_atomically(&path, &text)?;
        Ok(path)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so a reader sees the old file or the new one, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_survives_a_round_trip_and_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(State::load(dir.path()).unwrap(), State::default());
        let mut s = State::default();
        s.urls.insert(
            "https://data.ntsb.gov/a.zip".into(),
            Remembered { etag: Some("\"x\"".into()), sha256: "ab".into(), bytes: 3, ..Remembered::default() },
        );
        *s.counters.runs.entry("updated".into()).or_default() += 2;
        s.save(dir.path()).unwrap();
        assert_eq!(State::load(dir.path()).unwrap(), s);
        std::fs::write(dir.path().join(STATE_FILE), b"{not json").unwrap();
        assert!(State::load(dir.path()).unwrap_err().to_string().contains(STATE_FILE));
    }
}
