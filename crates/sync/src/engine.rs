//! One sync run: source → files → checks → downloads directory → loader →
//! what changed → state and counters.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ntsb_load::{LoadOptions, LoadReport, Loader, Progress};
use ntsb_search::SearchIndex;
use ntsb_store::{ChangeKind, Revision, Store};
use url::Url;

use crate::error::{Error, Result};
use crate::fetch::{Body, Client, Fetched, Validators};
use crate::links;
use crate::policy::redact;
use crate::state::{Remembered, State};

/// Name of the temporary area inside the downloads directory (same file
/// system, so moving a finished download into place is one atomic rename).
pub const PARTIAL_DIR: &str = ".partial";

/// How a sync runs.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// A download page (every linked file the readers know is fetched) or one file.
    pub source: Url,
    /// `DATA_DIR/downloads`: finished files and the state file.
    pub downloads_dir: PathBuf,
    /// How the loader runs (rejects directory, batch size).
    pub load: LoadOptions,
    /// Revisions listed in the report (the first updated events'; counts are always complete).
    pub show_revisions: usize,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileResult {
    /// Downloaded and loaded.
    Loaded,
    /// The server answered 304: unchanged since the last run.
    NotModified,
    /// Downloaded, but a file with this SHA-256 was loaded before (the store's ledger knows it).
    AlreadyLoaded,
    /// Downloaded, but not a format `ntsb ingest` recognises; not loaded.
    Unrecognised(String),
    /// Refused, broken off, corrupt or failed to load; nothing of it was kept.
    Failed(String),
}

impl FileResult {
    /// Label for counters and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            FileResult::Loaded => "loaded",
            FileResult::NotModified => "not_modified",
            FileResult::AlreadyLoaded => "already_loaded",
            FileResult::Unrecognised(_) => "unrecognised",
            FileResult::Failed(_) => "failed",
        }
    }
}

/// One file of a run.
#[derive(Debug, Clone)]
pub struct SyncedFile {
    /// Its URL (without credentials).
    pub url: String,
    /// Its name in the downloads directory.
    pub name: String,
    /// What happened.
    pub result: FileResult,
    /// Body bytes downloaded (0 for 304).
    pub bytes: u64,
    /// SHA-256 of the body, hex (empty for 304 and failures).
    pub sha256: String,
    /// Format it was recognised as.
    pub format: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Files were loaded.
    Updated,
    /// Nothing new: every file unchanged or already loaded.
    Unchanged,
    /// Some files failed, others were handled.
    Partial,
    /// Nothing could be handled (source unreachable or refused, every file failed).
    Failed,
}

impl Outcome {
    /// Label for counters, metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
        }
    }

    /// Whether the run did all it should.
    pub fn succeeded(self) -> bool {
        matches!(self, Outcome::Updated | Outcome::Unchanged)
    }
}

/// What the loaded files changed, read from the store's change log.
#[derive(Debug, Clone, Default)]
pub struct ChangeSummary {
    /// Events added.
    pub events_created: u64,
    /// Events that existed before the run and had at least one field or row changed.
    pub events_updated: u64,
    /// Events deleted.
    pub events_deleted: u64,
    /// Changed fields (`table.column`, or `table` for an added row) and in how many
    /// events that existed before the run each changed.
    pub fields: BTreeMap<String, u64>,
    /// Revisions of the first updated events (old and new value, load), by event.
    pub revisions: Vec<(String, Revision)>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The source (without credentials).
    pub source: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why the run as a whole failed (source refused or unreachable, store error).
    pub error: Option<String>,
    /// Every file, in source order.
    pub files: Vec<SyncedFile>,
    /// The loader's report, when files were loaded.
    pub load: Option<LoadReport>,
    /// What changed in the store.
    pub changes: ChangeSummary,
    /// Records rejected by the loaded files.
    pub rejects: u64,
    /// Body bytes downloaded.
    pub bytes: u64,
    /// Wall time in seconds.
    pub duration_secs: f64,
    /// The state after the run (counters included), as saved.
    pub state: State,
}

/// Runs syncs of one source into one store.
pub struct Syncer<'a> {
    store: &'a dyn Store,
    index: Option<&'a SearchIndex>,
    client: Client,
    options: SyncOptions,
}

/// A downloaded file waiting to be checked, moved and loaded.
struct Pending {
    url: Url,
    name: String,
    body: Body,
}

impl<'a> Syncer<'a> {
    /// A syncer; with `index`, the full-text index is brought in step after a load.
    pub fn new(store: &'a dyn Store, index: Option<&'a SearchIndex>, client: Client, options: SyncOptions) -> Self {
        Syncer { store, index, client, options }
    }

    /// One run. Errors of the run (source refused, store failing) end it as
    /// [`Outcome::Failed`] in the report, counted and saved like any outcome;
    /// only a state file that cannot be read or written is an `Err`.
    pub fn run(&self, progress: &mut dyn Progress) -> Result<SyncReport> {
        let started = Instant::now();
        let dir = &self.options.downloads_dir;
        std::fs::create_dir_all(dir.join(PARTIAL_DIR)).map_err(|e| Error::io(dir, e))?;
        // This run's temporary files go when dropped; a killed run's stay: clear those
        // old enough not to belong to a run still going.
        clear_stale(&dir.join(PARTIAL_DIR));
        let mut state = State::load(dir)?;
        let mut report = SyncReport {
            source: redact(&self.options.source),
            outcome: Outcome::Failed,
            error: None,
            files: Vec::new(),
            load: None,
            changes: ChangeSummary::default(),
            rejects: 0,
            bytes: 0,
            duration_secs: 0.0,
            state: State::default(),
        };
        if let Err(e) = self.run_inner(&mut state, &mut report, progress) {
            tracing::error!(source = %report.source, error = %e, "sync failed");
            report.error = Some(e.to_string());
        }
        report.outcome = outcome(&report);
        report.duration_secs = started.elapsed().as_secs_f64();
        count(&mut state, &report);
        state.save(dir)?;
        report.state = state;
        Ok(report)
    }

    fn run_inner(&self, state: &mut State, report: &mut SyncReport, progress: &mut dyn Progress) -> Result<()> {
        let dir = &self.options.downloads_dir;
        let partial = dir.join(PARTIAL_DIR);
        let source = &self.options.source;
        let source_key = redact(source);
        // Validators are remembered only for files, so a page is always read whole.
        let remembered = state.urls.get(&source_key).cloned();
        let mut pending: Vec<Pending> = Vec::new();
        match self.client.get(source, remembered.as_ref().map(validators).as_ref(), &partial)? {
            Fetched::NotModified => report.files.push(not_modified(&source_key, remembered.as_ref())),
            Fetched::Body(body) if is_page(&body) => {
                report.bytes += body.bytes;
                let html = read_text(body.file.path())?;
                let found = links::extract(&html, &body.final_url);
                if found.is_empty() {
                    return Err(Error::Transfer {
                        url: source_key,
                        reason: format!("the page links no file ntsb ingest reads ({})", links::EXTENSIONS.join(", ")),
                    });
                }
                tracing::info!(source = %report.source, files = found.len(), "download page read");
                for link in found {
                    let key = redact(&link.url);
                    let known = state.urls.get(&key).cloned();
                    match self.client.get(&link.url, known.as_ref().map(validators).as_ref(), &partial) {
                        Ok(Fetched::NotModified) => report.files.push(not_modified(&key, known.as_ref())),
                        Ok(Fetched::Body(body)) => {
                            report.bytes += body.bytes;
                            pending.push(Pending { url: link.url, name: link.name, body: *body });
                        }
                        Err(e) => {
                            tracing::warn!(url = %key, error = %e, "file not fetched");
                            report.files.push(failed(&key, &link.name, e.to_string()));
                        }
                    }
                }
            }
            Fetched::Body(body) => {
                report.bytes += body.bytes;
                let name = links::file_name(&body.final_url)
                    .or_else(|| links::file_name(source))
                    .unwrap_or_else(|| "download".to_string());
                pending.push(Pending { url: source.clone(), name, body: *body });
            }
        }
        self.place_and_load(state, report, pending, progress)
    }

    /// Checks each download, moves the recognised ones into place, loads those
    /// not loaded before, and remembers what was handled.
    fn place_and_load(
        &self,
        state: &mut State,
        report: &mut SyncReport,
        pending: Vec<Pending>,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let dir = &self.options.downloads_dir;
        let loaded_before: HashSet<String> = self
            .store
            .loads(1_000_000)?
            .into_iter()
            .filter(|l| l.status == "completed" && !l.source.checksum.is_empty())
            .map(|l| l.source.checksum)
            .collect();
        let mut names: BTreeSet<String> = BTreeSet::new();
        // (index in report.files, path, what to remember) of the files to load.
        let mut to_load: Vec<(usize, PathBuf, String, Remembered)> = Vec::new();
        for Pending { url, name, body } in pending {
            let key = redact(&url);
            let name = unique(&mut names, &name);
            let mut file = SyncedFile {
                url: key.clone(),
                name: name.clone(),
                result: FileResult::Loaded,
                bytes: body.bytes,
                sha256: body.sha256.clone(),
                format: None,
            };
            let remember = Remembered {
                etag: body.validators.etag.clone(),
                last_modified: body.validators.last_modified.clone(),
                sha256: body.sha256.clone(),
                bytes: body.bytes,
                file: name.clone(),
                fetched_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            };
            match ntsb_ingest::detect(body.file.path()) {
                Err(e) => {
                    // A corrupt archive: dropped with its temporary file; nothing moves.
                    file.result = FileResult::Failed(format!(
                        "{name}: {}",
                        e.to_string().replace(&body.file.path().display().to_string(), "download")
                    ));
                    tracing::warn!(url = %key, reason = ?file.result, "download refused");
                    report.files.push(file);
                }
                Ok(Err(reason)) => {
                    tracing::info!(url = %key, %reason, "not an NTSB record format; not loaded");
                    file.result = FileResult::Unrecognised(reason);
                    state.urls.insert(key, remember);
                    report.files.push(file);
                }
                Ok(Ok(format)) => {
                    file.format = Some(format.name().to_string());
                    let target = dir.join(&name);
                    body.file.persist(&target).map_err(|e| Error::io(&target, e.error))?;
                    if loaded_before.contains(&body.sha256) {
                        tracing::info!(url = %key, sha256 = %body.sha256, "already loaded; not loaded again");
                        file.result = FileResult::AlreadyLoaded;
                        state.urls.insert(key, remember);
                        report.files.push(file);
                    } else {
                        to_load.push((report.files.len(), target, key, remember));
                        report.files.push(file);
                    }
                }
            }
        }
        if to_load.is_empty() {
            return Ok(());
        }
        let head = self.store.change_log_head()?;
        let loader = Loader::new(self.store, self.index, self.options.load.clone());
        let paths: Vec<PathBuf> = to_load.iter().map(|(_, p, _, _)| p.clone()).collect();
        let load = loader.load_paths(&paths, progress)?;
        for (at, path, key, remember) in to_load {
            let outcome = load.files.iter().find(|f| f.path == path);
            match outcome.and_then(|f| f.error.clone()) {
                None if outcome.is_some() => {
                    state.urls.insert(key, remember);
                }
                None => report.files[at].result = FileResult::Failed("not loaded".into()),
                Some(e) => report.files[at].result = FileResult::Failed(e),
            }
        }
        let loads: HashSet<i64> = load.files.iter().filter_map(|f| f.load.map(|l| l.0)).collect();
        report.changes = self.changes_since(head, &loads)?;
        report.rejects = load.total().rejected;
        report.load = Some(load);
        Ok(())
    }

    /// What the change log recorded after `head` for the given loads, by
    /// distinct event: an event added by this run and then changed by a later
    /// file of it (its aircraft, its narrative) counts as added only.
    fn changes_since(&self, head: u64, loads: &HashSet<i64>) -> Result<ChangeSummary> {
        let mut created: HashSet<i64> = HashSet::new();
        let mut deleted: HashSet<i64> = HashSet::new();
        let mut updated: Vec<(i64, Option<String>)> = Vec::new();
        let mut fields: BTreeMap<String, HashSet<i64>> = BTreeMap::new();
        let mut after = head;
        loop {
            let batch = self.store.changes(after, 10_000)?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            for change in batch.into_iter().filter(|c| c.load.is_some_and(|l| loads.contains(&l))) {
                match change.kind {
                    ChangeKind::Created => {
                        created.insert(change.event_id);
                    }
                    ChangeKind::Deleted => {
                        deleted.insert(change.event_id);
                    }
                    ChangeKind::Updated => {
                        for field in &change.fields {
                            fields.entry(field.clone()).or_default().insert(change.event_id);
                        }
                        updated.push((change.event_id, change.ev_id.or(change.ntsb_no)));
                    }
                }
            }
        }
        let mut summary = ChangeSummary {
            events_created: created.len() as u64,
            events_deleted: deleted.len() as u64,
            ..ChangeSummary::default()
        };
        for (field, events) in fields {
            let n = events.iter().filter(|e| !created.contains(e)).count() as u64;
            if n > 0 {
                summary.fields.insert(field, n);
            }
        }
        let mut seen: HashSet<i64> = HashSet::new();
        let mut shown: Vec<String> = Vec::new();
        for (event, key) in updated {
            if created.contains(&event) || !seen.insert(event) {
                continue;
            }
            if shown.len() < self.options.show_revisions
                && let Some(key) = key
            {
                shown.push(key);
            }
        }
        summary.events_updated = seen.len() as u64;
        for key in shown {
            for revision in self.store.revisions(&key)? {
                if loads.contains(&revision.load.0) {
                    summary.revisions.push((key.clone(), revision));
                }
            }
        }
        Ok(summary)
    }
}

fn validators(r: &Remembered) -> Validators {
    Validators { etag: r.etag.clone(), last_modified: r.last_modified.clone() }
}

fn not_modified(key: &str, remembered: Option<&Remembered>) -> SyncedFile {
    SyncedFile {
        url: key.to_string(),
        name: remembered.map(|r| r.file.clone()).unwrap_or_default(),
        result: FileResult::NotModified,
        bytes: 0,
        sha256: remembered.map(|r| r.sha256.clone()).unwrap_or_default(),
        format: None,
    }
}

fn failed(key: &str, name: &str, reason: String) -> SyncedFile {
    SyncedFile {
        url: key.to_string(),
        name: name.to_string(),
        result: FileResult::Failed(reason),
        bytes: 0,
        sha256: String::new(),
        format: None,
    }
}

/// A name not yet used in this run (`avall.zip`, then `avall-2.zip`).
fn unique(used: &mut BTreeSet<String>, name: &str) -> String {
    let mut candidate = name.to_string();
    let mut n = 2;
    while used.contains(&candidate) || candidate == crate::state::STATE_FILE {
        candidate = match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}-{n}.{ext}"),
            None => format!("{name}-{n}"),
        };
        n += 1;
    }
    used.insert(candidate.clone());
    candidate
}

/// Whether a body is an HTML page (its links name the files) rather than a file.
fn is_page(body: &Body) -> bool {
    if body.content_type.contains("text/html") || body.content_type.contains("application/xhtml") {
        return true;
    }
    let mut head = [0u8; 512];
    let n = std::fs::File::open(body.file.path()).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]).trim_start_matches('\u{feff}').trim_start().to_ascii_lowercase();
    text.starts_with("<!doctype html") || text.starts_with("<html")
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn outcome(report: &SyncReport) -> Outcome {
    let failed = report.files.iter().filter(|f| matches!(f.result, FileResult::Failed(_))).count();
    if report.error.is_some() {
        return Outcome::Failed;
    }
    if failed > 0 {
        return if failed == report.files.len() { Outcome::Failed } else { Outcome::Partial };
    }
    if report.files.iter().any(|f| f.result == FileResult::Loaded) { Outcome::Updated } else { Outcome::Unchanged }
}

fn count(state: &mut State, report: &SyncReport) {
    let c = &mut state.counters;
    *c.runs.entry(report.outcome.label().to_string()).or_default() += 1;
    for f in &report.files {
        *c.files.entry(f.result.label().to_string()).or_default() += 1;
    }
    c.bytes += report.bytes;
    c.events_created += report.changes.events_created;
    c.events_updated += report.changes.events_updated;
    c.rejects += report.rejects;
    let now = chrono::Utc::now().timestamp();
    c.last_run = now;
    if report.outcome.succeeded() {
        c.last_success = now;
    }
    c.last_duration = report.duration_secs;
}

/// Removes temporary downloads untouched for a day (left by a killed run).
fn clear_stale(dir: &Path) {
    let day = std::time::Duration::from_secs(24 * 3600);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > day);
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_within_a_run() {
        let mut used = BTreeSet::new();
        assert_eq!(unique(&mut used, "avall.zip"), "avall.zip");
        assert_eq!(unique(&mut used, "avall.zip"), "avall-2.zip");
        assert_eq!(unique(&mut used, "avall.zip"), "avall-3.zip");
        assert_eq!(unique(&mut used, "sync-state.json"), "sync-state-2.json");
    }
}
