//! [`Analytics`]: the projection of one store, built in the background, kept
//! exact by following the store's change log, and answering while the store
//! stays the source of truth.
//!
//! Following works as the full-text index's does: the projection remembers the
//! position of the change log it has applied and the store's lineage
//! ([`Store::store_id`]); [`Analytics::catch_up`] reads the changes after that
//! position and re-reads the current facts of the events they name (so a
//! change applied twice is harmless). The position is read *before* the facts
//! of a build, so a change committed during the build is applied afterwards. A
//! store restored, rolled back or replaced (lineage changed, or the log's head
//! below the position) and a backlog larger than [`REBUILD_AFTER`] changes are
//! answered by a rebuild, made aside while the old projection keeps serving.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ntsb_model::query::{
    Breakdown, BreakdownRow, EventFilter, EventQuery, FindingRow, GridCell, OccurrenceRow, Summary,
};
use ntsb_store::{ChangeKind, Facts, Store};

use crate::Result;
use crate::projection::Projection;

/// Changes read per round of [`Analytics::catch_up`].
const CHANGE_BATCH: usize = 10_000;

/// A backlog of more changed events than this is applied by rebuilding: one
/// bulk read is cheaper than re-reading that many events one set at a time.
pub const REBUILD_AFTER: usize = 50_000;

struct Built {
    projection: Projection,
    position: u64,
    store_id: Option<String>,
}

/// How the projection was last built or brought up to date.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// Whether it answers (a first build finished).
    pub ready: bool,
    /// Events in it.
    pub events: u64,
    /// Position of the store's change log applied.
    pub position: u64,
    /// Approximate bytes it holds.
    pub bytes: u64,
    /// Seconds the last full build took (reading included).
    pub build_seconds: f64,
    /// Full builds so far.
    pub builds: u64,
}

/// The analytical engine of one store.
pub struct Analytics {
    store: Arc<dyn Store>,
    facts: Arc<dyn Facts>,
    built: RwLock<Option<Built>>,
    position: AtomicU64,
    builds: AtomicU64,
    build_micros: AtomicU64,
    /// Serialises builds and catch-ups (readers never wait for a rebuild).
    updating: std::sync::Mutex<()>,
}

impl std::fmt::Debug for Analytics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analytics").field("status", &self.status()).finish_non_exhaustive()
    }
}

impl Analytics {
    /// An engine over `store` (usually one object seen through both traits);
    /// nothing is read until [`Analytics::build`] or [`Analytics::catch_up`].
    pub fn new(store: Arc<dyn Store>, facts: Arc<dyn Facts>) -> Arc<Analytics> {
        Arc::new(Analytics {
            store,
            facts,
            built: RwLock::new(None),
            position: AtomicU64::new(0),
            builds: AtomicU64::new(0),
            build_micros: AtomicU64::new(0),
            updating: std::sync::Mutex::new(()),
        })
    }

    /// Whether the projection answers.
    pub fn is_ready(&self) -> bool {
        self.built.read().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Position of the store's change log the projection has applied (0
    /// before the first build). Caches of answers fold it into their keys.
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    /// What the projection holds now.
    pub fn status(&self) -> Status {
        let built = self.built.read().unwrap_or_else(|p| p.into_inner());
        Status {
            ready: built.is_some(),
            events: built.as_ref().map_or(0, |b| b.projection.events()),
            position: built.as_ref().map_or(0, |b| b.position),
            bytes: built.as_ref().map_or(0, |b| b.projection.heap_bytes() as u64),
            build_seconds: self.build_micros.load(Ordering::Relaxed) as f64 / 1e6,
            builds: self.builds.load(Ordering::Relaxed),
        }
    }

    /// Builds the projection from the whole store and puts it in service.
    pub fn build(&self) -> Result<()> {
        let _one = self.updating.lock().unwrap_or_else(|p| p.into_inner());
        self.rebuild()
    }

    fn rebuild(&self) -> Result<()> {
        let started = Instant::now();
        let store_id = self.store.store_id()?;
        let position = self.store.change_log_head()?;
        let events = self.facts.event_facts(None)?;
        let descriptions = self.facts.code_descriptions()?;
        let projection = Projection::build(events, descriptions)?;
        let took = started.elapsed();
        tracing::info!(
            events = projection.events(),
            position,
            seconds = took.as_secs_f64(),
            bytes = projection.heap_bytes(),
            "analytics projection built"
        );
        *self.built.write().unwrap_or_else(|p| p.into_inner()) = Some(Built { projection, position, store_id });
        self.position.store(position, Ordering::Release);
        self.builds.fetch_add(1, Ordering::Relaxed);
        self.build_micros.store(took.as_micros() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Applies the store's changes since the projection's position (building
    /// it first when there is none); returns how many events were re-read
    /// (or, after a rebuild, how many events it holds).
    pub fn catch_up(&self) -> Result<u64> {
        let _one = self.updating.lock().unwrap_or_else(|p| p.into_inner());
        let (position, store_id) = {
            let built = self.built.read().unwrap_or_else(|p| p.into_inner());
            match built.as_ref() {
                Some(b) => (b.position, b.store_id.clone()),
                None => {
                    drop(built);
                    self.rebuild()?;
                    return Ok(self.status().events);
                }
            }
        };
        let head = self.store.change_log_head()?;
        if head == position && self.store.store_id()? == store_id {
            return Ok(0);
        }
        if head < position || self.store.store_id()? != store_id {
            self.rebuild()?;
            return Ok(self.status().events);
        }
        // Which events changed, up to the head seen now.
        let mut ids = BTreeSet::new();
        let mut describe = false;
        let mut at = position;
        while at < head {
            let changes = self.store.changes(at, CHANGE_BATCH)?;
            let Some(last) = changes.last() else { break };
            at = last.seq;
            for c in &changes {
                describe |= c.kind != ChangeKind::Updated
                    || c.fields.iter().any(|f| f.starts_with("findings") || f.starts_with("occurrences"));
                ids.insert(c.event_id);
            }
            if ids.len() > REBUILD_AFTER {
                self.rebuild()?;
                return Ok(self.status().events);
            }
        }
        let ids: Vec<i64> = ids.into_iter().collect();
        let facts = self.facts.event_facts(Some(&ids))?;
        let descriptions = if describe { Some(self.facts.code_descriptions()?) } else { None };
        let mut built = self.built.write().unwrap_or_else(|p| p.into_inner());
        let Some(b) = built.as_mut() else { return Ok(0) };
        let mut found = facts.iter().peekable();
        for &id in &ids {
            let now = found.next_if(|f| f.id == id);
            b.projection.replace(id, now)?;
        }
        if let Some(d) = descriptions {
            b.projection.set_descriptions(d);
        }
        b.position = at;
        self.position.store(at, Ordering::Release);
        Ok(ids.len() as u64)
    }

    /// Runs `f` on the projection; `None` when it is not ready yet (answer from the store).
    pub fn with<T>(&self, f: impl FnOnce(&Projection) -> Result<T>) -> Option<Result<T>> {
        let built = self.built.read().unwrap_or_else(|p| p.into_inner());
        built.as_ref().map(|b| f(&b.projection))
    }

    /// How many events match `filter`; `None` when not ready.
    pub fn total(&self, filter: &EventFilter) -> Option<Result<u64>> {
        self.with(|p| Ok(p.matching(filter)?.len()))
    }

    /// The events of one page of `q` (see [`ntsb_store::Queries::list_events`]):
    /// their store ids in order, the next cursor and the total; the caller reads
    /// the rows by id. `None` when not ready.
    pub fn page(&self, q: &EventQuery) -> Option<Result<crate::Page>> {
        self.with(|p| p.page(q))
    }

    /// See [`ntsb_store::Queries::grid_density`]; `None` when not ready or
    /// when the store must answer (see [`Projection::grid_density`]).
    pub fn grid_density(&self, filter: &EventFilter, cell_degrees: f64) -> Option<Result<Vec<GridCell>>> {
        match self.with(|p| Ok(p.grid_density(&p.matching(filter)?, cell_degrees))) {
            Some(Ok(None)) | None => None,
            Some(Ok(Some(cells))) => Some(Ok(cells)),
            Some(Err(e)) => Some(Err(e)),
        }
    }

    /// See [`ntsb_store::Queries::summary`]; `None` when not ready.
    pub fn summary(&self, filter: &EventFilter) -> Option<Result<Summary>> {
        self.with(|p| Ok(p.summary(&p.matching(filter)?)))
    }

    /// See [`ntsb_store::Queries::breakdown`]; `None` when not ready or when the
    /// projection holds no column for `by` (the caller asks the store).
    pub fn breakdown(
        &self,
        by: Breakdown,
        filter: &EventFilter,
        min_count: u64,
        limit: usize,
    ) -> Option<Result<Vec<BreakdownRow>>> {
        match self.with(|p| Ok(p.breakdown(by, &p.matching(filter)?, min_count, limit))) {
            Some(Ok(None)) | None => None,
            Some(Ok(Some(rows))) => Some(Ok(rows)),
            Some(Err(e)) => Some(Err(e)),
        }
    }

    /// See [`ntsb_store::Queries::top_findings`]; `None` when not ready.
    pub fn top_findings(&self, filter: &EventFilter, limit: usize) -> Option<Result<Vec<FindingRow>>> {
        self.with(|p| Ok(p.top_findings(&p.matching(filter)?, limit)))
    }

    /// See [`ntsb_store::Queries::top_occurrences`]; `None` when not ready.
    pub fn top_occurrences(&self, filter: &EventFilter, limit: usize) -> Option<Result<Vec<OccurrenceRow>>> {
        self.with(|p| Ok(p.top_occurrences(&p.matching(filter)?, limit)))
    }

    /// Builds the projection and follows the store on a thread of its own,
    /// checking for changes every `interval`, until the returned handle is
    /// stopped or dropped. Errors are logged and retried.
    pub fn follow(self: &Arc<Self>, interval: Duration) -> Follower {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (self.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("ntsb-analytics".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    if let Err(e) = engine.catch_up() {
                        tracing::warn!(error = %e, "analytics projection: cannot follow the store; retrying");
                    }
                    std::thread::sleep(interval);
                }
            })
            .ok();
        Follower { stop, thread }
    }
}

/// The following thread of [`Analytics::follow`]; stops when dropped.
#[derive(Debug)]
pub struct Follower {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Follower {
    /// Stops following and waits for the thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.halt();
    }
}
