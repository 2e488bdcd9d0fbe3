//! What `ntsb ingest` and `ntsb demo` print: a progress bar on a terminal,
//! plain lines otherwise, and a summary table per table at the end.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use ntsb_load::{LoadReport, Progress};
use ntsb_store::LoadSummary;
use serde::Serialize;

/// `println!` that returns the write's result instead of panicking, for the
/// commands' `?`: when the reader has gone (`ntsb inspect loads | head`) the
/// command stops at its next line and `main` ends it quietly.
macro_rules! out {
    () => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock())
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}
pub(crate) use out;

/// Whether an error is standard output's reader having gone: the reader's
/// choice (`| head`), not a failure of the command.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// The progress reporter fitting stderr: a bar on a terminal, lines elsewhere.
pub fn progress() -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() { Box::new(BarProgress { bar: None }) } else { Box::new(LineProgress) }
}

struct BarProgress {
    bar: Option<ProgressBar>,
}

impl Progress for BarProgress {
    fn file_started(&mut self, path: &Path, format: &str, bytes: u64) {
        // A bar over the file's bytes when its size is known; a spinner for
        // sources without one (the demo sample).
        let bar = if bytes > 0 {
            let bar = ProgressBar::new(bytes);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {percent:>3}% {elapsed:>4} {prefix} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        } else {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {prefix} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        };
        bar.set_prefix(format!("{} ({format})", path.display()));
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bar = Some(bar);
    }

    fn advanced(&mut self, records: u64, rejects: u64, bytes: Option<u64>) {
        if let Some(bar) = &self.bar {
            if let Some(b) = bytes {
                bar.set_position(b);
            }
            bar.set_message(format!("{records} records, {rejects} rejected"));
        }
    }

    fn file_finished(&mut self, path: &Path, summary: &LoadSummary) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        eprintln!("{}", file_line(path, summary));
    }

    fn indexing(&mut self) {
        eprintln!("updating the full-text index…");
    }
}

struct LineProgress;

impl Progress for LineProgress {
    fn file_started(&mut self, path: &Path, format: &str, bytes: u64) {
        // Records that do not come from a file (the demo sample) have no size.
        if bytes > 0 {
            eprintln!("loading {} ({format}, {bytes} bytes)", path.display());
        } else {
            eprintln!("loading {} ({format})", path.display());
        }
    }
    fn advanced(&mut self, _records: u64, _rejects: u64, _bytes: Option<u64>) {}
    fn file_finished(&mut self, path: &Path, summary: &LoadSummary) {
        eprintln!("{}", file_line(path, summary));
    }
    fn indexing(&mut self) {
        eprintln!("updating the full-text index");
    }
}

fn file_line(path: &Path, summary: &LoadSummary) -> String {
    let t = summary.total();
    format!(
        "{} {}: inserted {}, updated {}, unchanged {}, rejected {} in {:.1} s",
        if summary.status == "completed" { "loaded" } else { "FAILED" },
        path.display(),
        t.inserted,
        t.updated,
        t.unchanged,
        t.rejected,
        summary.duration_ms as f64 / 1000.0
    )
}

/// Prints the summary table of a load.
/// Prints any value as pretty JSON.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    out!("{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

/// The per-table counts table with its total line.
pub fn print_tables(tables: &std::collections::BTreeMap<String, ntsb_store::TableCounts>) -> std::io::Result<()> {
    out!("{:<24} {:>10} {:>10} {:>10} {:>10}", "table", "inserted", "updated", "unchanged", "rejected")?;
    let mut t = ntsb_store::TableCounts::default();
    for (table, c) in tables {
        out!("{table:<24} {:>10} {:>10} {:>10} {:>10}", c.inserted, c.updated, c.unchanged, c.rejected)?;
        t.add(c);
    }
    out!("{:<24} {:>10} {:>10} {:>10} {:>10}", "total", t.inserted, t.updated, t.unchanged, t.rejected)?;
    out!()
}

pub fn print_report(report: &LoadReport) -> std::io::Result<()> {
    if !report.skipped.is_empty() {
        out!("skipped (not NTSB record formats):")?;
        // Group by reason so a folder of report texts is one line, not dozens.
        let mut by_reason: std::collections::BTreeMap<&str, Vec<&Path>> = std::collections::BTreeMap::new();
        for s in &report.skipped {
            by_reason.entry(s.reason.as_str()).or_default().push(&s.path);
        }
        for (reason, paths) in by_reason {
            match paths.as_slice() {
                [one] => out!("  {}: {reason}", one.display())?,
                [first, rest @ ..] => out!("  {} and {} more: {reason}", first.display(), rest.len())?,
                [] => {}
            }
        }
        out!()?;
    }
    out!("{:<24} {:>10} {:>10} {:>10} {:>10}", "table", "inserted", "updated", "unchanged", "rejected")?;
    for (table, c) in &report.totals {
        out!("{table:<24} {:>10} {:>10} {:>10} {:>10}", c.inserted, c.updated, c.unchanged, c.rejected)?;
    }
    let t = report.total();
    out!("{:<24} {:>10} {:>10} {:>10} {:>10}", "total", t.inserted, t.updated, t.unchanged, t.rejected)?;
    out!()?;
    out!(
        "{} file(s) in {:.1} s; full-text index: {} document(s) indexed, {} removed; {} event detail document(s) built",
        report.files.len(),
        report.duration_ms as f64 / 1000.0,
        report.indexed,
        report.removed,
        report.documents
    )?;
    if let Some(path) = &report.rejects_report {
        out!("rejected records are listed in {}", path.display())?;
    }
    for f in report.files.iter().filter(|f| f.error.is_some()) {
        out!("error: {}: {}", f.path.display(), f.error.as_deref().unwrap_or(""))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonReport<'a> {
    files: Vec<JsonFile<'a>>,
    skipped: Vec<JsonSkipped>,
    totals: &'a std::collections::BTreeMap<String, ntsb_store::TableCounts>,
    rejects_report: Option<String>,
    indexed: u64,
    removed: u64,
    documents: u64,
    duration_ms: u64,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    path: String,
    format: &'a str,
    load_id: Option<i64>,
    status: &'a str,
    tables: &'a std::collections::BTreeMap<String, ntsb_store::TableCounts>,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonSkipped {
    path: String,
    reason: String,
}

/// Prints the load report as JSON (for scripts).
pub fn print_report_json(report: &LoadReport) -> anyhow::Result<()> {
    let out = JsonReport {
        files: report
            .files
            .iter()
            .map(|f| JsonFile {
                path: f.path.display().to_string(),
                format: &f.format,
                load_id: f.load.map(|l| l.0),
                status: &f.summary.status,
                tables: &f.summary.tables,
                error: f.error.as_deref(),
            })
            .collect(),
        skipped: report
            .skipped
            .iter()
            .map(|s| JsonSkipped { path: s.path.display().to_string(), reason: s.reason.clone() })
            .collect(),
        totals: &report.totals,
        rejects_report: report.rejects_report.as_ref().map(|p| p.display().to_string()),
        indexed: report.indexed,
        removed: report.removed,
        documents: report.documents,
        duration_ms: report.duration_ms,
    };
    out!("{}", serde_json::to_string_pretty(&out)?)?;
    Ok(())
}
