//! The sync's counters in the Prometheus text format, for node-exporter's
//! textfile collector (`--metrics-file`): a one-shot `ntsb sync` (CronJob,
//! systemd timer) has no `/metrics` of its own to be scraped, so each run
//! rewrites one file atomically and node-exporter serves it.

use std::fmt::Write;
use std::path::Path;

use crate::error::Result;
use crate::state::{Counters, write_atomically};

/// Run outcomes, always listed (a counter that exists at 0 makes `increase()` work).
const OUTCOMES: [&str; 4] = ["updated", "unchanged", "partial", "failed"];
/// File results, always listed.
const RESULTS: [&str; 5] = ["loaded", "not_modified", "already_loaded", "unrecognised", "failed"];

/// The counters as Prometheus text.
pub fn render(c: &Counters) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# HELP ntsb_sync_runs_total Sync runs by outcome (updated, unchanged, partial, failed).");
    let _ = writeln!(out, "# TYPE ntsb_sync_runs_total counter");
    for o in OUTCOMES {
        let _ = writeln!(out, "ntsb_sync_runs_total{{outcome=\"{o}\"}} {}", c.runs.get(o).copied().unwrap_or(0));
    }
    let _ = writeln!(
        out,
        "# HELP ntsb_sync_files_total Files by result (loaded, not_modified, already_loaded, unrecognised, failed)."
    );
    let _ = writeln!(out, "# TYPE ntsb_sync_files_total counter");
    for r in RESULTS {
        let _ = writeln!(out, "ntsb_sync_files_total{{result=\"{r}\"}} {}", c.files.get(r).copied().unwrap_or(0));
    }
    let scalars: [(&str, &str, &str, String); 7] = [
        ("ntsb_sync_downloaded_bytes_total", "counter", "Body bytes downloaded by syncs.", c.bytes.to_string()),
        ("ntsb_sync_events_created_total", "counter", "Events added by syncs.", c.events_created.to_string()),
        ("ntsb_sync_events_updated_total", "counter", "Events updated by syncs.", c.events_updated.to_string()),
        ("ntsb_sync_rejects_total", "counter", "Records rejected by syncs.", c.rejects.to_string()),
        ("ntsb_sync_last_run_timestamp_seconds", "gauge", "Unix time the last sync ended.", c.last_run.to_string()),
        (
            "ntsb_sync_last_success_timestamp_seconds",
            "gauge",
            "Unix time the last sync ended updated or unchanged (0: never).",
            c.last_success.to_string(),
        ),
        ("ntsb_sync_last_duration_seconds", "gauge", "Seconds the last sync took.", format!("{:.3}", c.last_duration)),
    ];
    for (name, kind, help, value) in scalars {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    }
    out
}

/// Writes the counters to `path` atomically (node-exporter never reads half a file).
pub fn write_textfile(path: &Path, c: &Counters) -> Result<()> {
    write_atomically(path, render(c).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_is_listed_and_counts_are_the_counters() {
        let mut c = Counters::default();
        c.runs.insert("updated".into(), 3);
        c.files.insert("not_modified".into(), 7);
        c.bytes = 1234;
        c.last_success = 1_700_000_000;
        let text = render(&c);
        assert!(text.contains("ntsb_sync_runs_total{outcome=\"updated\"} 3\n"), "{text}");
        assert!(text.contains("ntsb_sync_runs_total{outcome=\"failed\"} 0\n"));
        assert!(text.contains("ntsb_sync_files_total{result=\"not_modified\"} 7\n"));
        assert!(text.contains("ntsb_sync_downloaded_bytes_total 1234\n"));
        assert!(text.contains("ntsb_sync_last_success_timestamp_seconds 1700000000\n"));
        // Every sample line belongs to a declared family.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            assert!(text.contains(&format!("# TYPE {name} ")), "{l}");
        }
    }
}
