//! The load loop: files → readers → batches → store → ledger → index.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ntsb_ingest::{Detected, Item, RecordStream, Skipped};
use ntsb_model::SourceKind;
use ntsb_model::records::{Reject, SourcedRecord};
use ntsb_search::SearchIndex;
use ntsb_store::{LoadId, LoadSource, LoadSummary, Store, TableCounts};

use crate::error::Result;
use crate::progress::Progress;
use crate::rejects::RejectsReport;

/// How a load runs.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Records per transaction. Larger is faster; smaller loses less work when
    /// a load is killed. 10,000 keeps both good.
    pub batch_size: usize,
    /// Read every file as this `--format` instead of recognising it.
    pub forced_format: Option<String>,
    /// Directory for rejects reports.
    pub rejects_dir: PathBuf,
}

impl LoadOptions {
    /// Defaults with rejects reports under `rejects_dir`.
    pub fn new(rejects_dir: PathBuf) -> Self {
        LoadOptions { batch_size: 10_000, forced_format: None, rejects_dir }
    }
}

/// What happened to one file.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    /// The file.
    pub path: PathBuf,
    /// Format it was read as.
    pub format: String,
    /// Ledger entry.
    pub load: Option<LoadId>,
    /// Counts per table.
    pub summary: LoadSummary,
    /// Why the file could not be read to the end, if it could not.
    pub error: Option<String>,
}

/// What a whole load command did.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Every file read, in load order.
    pub files: Vec<FileOutcome>,
    /// Files found in directories and passed over, with reasons.
    pub skipped: Vec<Skipped>,
    /// Counts per table over all files.
    pub totals: BTreeMap<String, TableCounts>,
    /// The rejects report, when anything was rejected.
    pub rejects_report: Option<PathBuf>,
    /// Documents added to or replaced in the full-text index.
    pub indexed: u64,
    /// Documents removed from the index.
    pub removed: u64,
    /// Event detail documents built after the load (SQLite; 0 on PostgreSQL).
    pub documents: u64,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

impl LoadReport {
    /// Whether any file failed to load to the end.
    pub fn failed(&self) -> bool {
        self.files.iter().any(|f| f.error.is_some())
    }

    /// Sum over every table.
    pub fn total(&self) -> TableCounts {
        let mut t = TableCounts::default();
        for c in self.totals.values() {
            t.add(c);
        }
        t
    }
}

/// Loads sources into a store and keeps the index in step.
pub struct Loader<'a> {
    store: &'a dyn Store,
    index: Option<&'a SearchIndex>,
    options: LoadOptions,
}

impl<'a> Loader<'a> {
    /// A loader over `store`; with `index`, the full-text index is synced after
    /// the load.
    pub fn new(store: &'a dyn Store, index: Option<&'a SearchIndex>, options: LoadOptions) -> Self {
        Loader { store, index, options }
    }

    /// Discovers and loads every path (files or directories), parents first.
    pub fn load_paths(&self, paths: &[PathBuf], progress: &mut dyn Progress) -> Result<LoadReport> {
        let started = Instant::now();
        let discovery = ntsb_ingest::discover(paths, self.options.forced_format.as_deref())?;
        let mut report = LoadReport { skipped: discovery.skipped, ..LoadReport::default() };
        let mut rejects = RejectsReport::new(self.report_path());
        for detected in &discovery.files {
            let outcome = self.load_file(detected, &mut rejects, progress)?;
            merge_into(&mut report.totals, &outcome.summary);
            report.files.push(outcome);
        }
        self.finish(&mut report, &rejects, progress, started)?;
        Ok(report)
    }

    /// Loads records that do not come from a file (the synthetic demo sample).
    pub fn load_records(
        &self,
        label: &str,
        kind: SourceKind,
        records: impl Iterator<Item = SourcedRecord>,
        progress: &mut dyn Progress,
    ) -> Result<LoadReport> {
        let started = Instant::now();
        let mut report = LoadReport::default();
        let mut rejects = RejectsReport::new(self.report_path());
        let source = LoadSource {
            path: label.to_string(),
            format: kind.as_str().to_string(),
            checksum: String::new(),
            bytes: 0,
        };
        progress.file_started(Path::new(label), kind.as_str(), 0);
        let mut stream = Records { kind, records };
        let outcome = self.run(Path::new(label), kind.as_str(), source, &mut stream, &mut rejects, progress)?;
        merge_into(&mut report.totals, &outcome.summary);
        report.files.push(outcome);
        self.finish(&mut report, &rejects, progress, started)?;
        Ok(report)
    }

    fn report_path(&self) -> PathBuf {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        self.options.rejects_dir.join(format!("rejects-{secs}-{}.csv", std::process::id()))
    }

    fn finish(
        &self,
        report: &mut LoadReport,
        rejects: &RejectsReport,
        progress: &mut dyn Progress,
        started: Instant,
    ) -> Result<()> {
        if let Some(index) = self.index {
            progress.indexing();
            let synced = index.sync(self.store)?;
            report.indexed = synced.indexed;
            report.removed = synced.removed;
        }
        if self.store.loads_build_documents() {
            report.documents = ntsb_store::build_missing_documents(self.store)?;
        }
        if rejects.written > 0 {
            report.rejects_report = Some(rejects.path().to_path_buf());
        }
        report.duration_ms = started.elapsed().as_millis() as u64;
        Ok(())
    }

    fn load_file(
        &self,
        detected: &Detected,
        rejects: &mut RejectsReport,
        progress: &mut dyn Progress,
    ) -> Result<FileOutcome> {
        let path = &detected.path;
        let format = detected.format.name();
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        progress.file_started(path, format, bytes);
        let checksum = ntsb_ingest::checksum(path)?;
        let source = LoadSource { path: path.display().to_string(), format: format.to_string(), checksum, bytes };
        match ntsb_ingest::open(detected) {
            Ok(mut stream) => self.run(path, format, source, stream.as_mut(), rejects, progress),
            Err(err) => {
                let load = self.store.begin_load(&source)?;
                let summary = LoadSummary { status: format!("failed: {err}"), ..LoadSummary::default() };
                self.store.finish_load(load, &summary)?;
                progress.file_finished(path, &summary);
                Ok(FileOutcome {
                    path: path.clone(),
                    format: format.to_string(),
                    load: Some(load),
                    summary,
                    error: Some(err.to_string()),
                })
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        path: &Path,
        format: &str,
        source: LoadSource,
        stream: &mut dyn RecordStream,
        rejects: &mut RejectsReport,
        progress: &mut dyn Progress,
    ) -> Result<FileOutcome> {
        let started = Instant::now();
        let kind = stream.kind();
        let load = self.store.begin_load(&source)?;
        let file = source.path.clone();
        let mut summary = LoadSummary::default();
        let mut batch: Vec<SourcedRecord> = Vec::with_capacity(self.options.batch_size);
        let mut reader_rejects: Vec<Reject> = Vec::new();
        let (mut seen, mut refused) = (0u64, 0u64);
        let mut error = None;
        while let Some(item) = stream.next() {
            match item {
                Ok(Item::Record(r)) => batch.push(r),
                Ok(Item::Reject(r)) => reader_rejects.push(r),
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
            if batch.len() >= self.options.batch_size {
                let n = batch.len() as u64;
                refused += self.flush(load, kind, &file, &mut batch, &mut reader_rejects, &mut summary, rejects)?;
                seen += n;
                progress.advanced(seen, refused, stream.bytes_read());
            }
        }
        let n = batch.len() as u64;
        refused += self.flush(load, kind, &file, &mut batch, &mut reader_rejects, &mut summary, rejects)?;
        progress.advanced(seen + n, refused, stream.bytes_read());
        summary.status = match &error {
            None => "completed".to_string(),
            Some(e) => format!("failed: {e}"),
        };
        summary.duration_ms = started.elapsed().as_millis() as u64;
        self.store.finish_load(load, &summary)?;
        progress.file_finished(path, &summary);
        Ok(FileOutcome { path: path.to_path_buf(), format: format.to_string(), load: Some(load), summary, error })
    }

    /// Writes one batch and the reader rejects gathered with it; returns how
    /// many records were rejected in total.
    #[allow(clippy::too_many_arguments)]
    fn flush(
        &self,
        load: LoadId,
        kind: SourceKind,
        file: &str,
        batch: &mut Vec<SourcedRecord>,
        reader_rejects: &mut Vec<Reject>,
        summary: &mut LoadSummary,
        report: &mut RejectsReport,
    ) -> Result<u64> {
        let mut refused = 0;
        if !reader_rejects.is_empty() {
            self.store.record_rejects(load, reader_rejects)?;
            for r in reader_rejects.iter() {
                let table = r.table.clone().unwrap_or_else(|| "unparsed".to_string());
                summary.tables.entry(table).or_default().rejected += 1;
            }
            report.write(reader_rejects)?;
            refused += reader_rejects.len() as u64;
            reader_rejects.clear();
        }
        if !batch.is_empty() {
            let outcome = self.store.write_batch(load, kind, file, std::mem::take(batch))?;
            for (table, counts) in &outcome.tables {
                summary.tables.entry(table.clone()).or_default().add(counts);
            }
            report.write(&outcome.rejects)?;
            refused += outcome.rejects.len() as u64;
        }
        Ok(refused)
    }
}

fn merge_into(totals: &mut BTreeMap<String, TableCounts>, summary: &LoadSummary) {
    for (table, counts) in &summary.tables {
        totals.entry(table.clone()).or_default().add(counts);
    }
}

/// Records that do not come from a file, as a stream.
struct Records<I> {
    kind: SourceKind,
    records: I,
}

impl<I: Iterator<Item = SourcedRecord>> Iterator for Records<I> {
    type Item = ntsb_ingest::Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        self.records.next().map(|r| Ok(Item::Record(r)))
    }
}

impl<I: Iterator<Item = SourcedRecord>> RecordStream for Records<I> {
    fn kind(&self) -> SourceKind {
        self.kind
    }
}
