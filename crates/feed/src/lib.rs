//! The live change feed: follows the store's change log ([`ntsb_store::Store::changes`])
//! and hands every committed change to each subscriber whose event filter it
//! matches, in commit order, with nothing missed and nothing repeated.
//!
//! One engine task per process reads the log after the last position it
//! published, describes each changed event once (its [`EventSummary`] as
//! stored now), works out once per batch which of the subscribers' distinct
//! filters each change matches (one store query per distinct filter: filters
//! mean exactly what they mean for `GET /api/v1/events`), writes the JSON
//! message once, and publishes it on a bounded ring ([`FeedConfig::buffer`]
//! changes). Every subscriber reads the ring at its own pace; one that falls
//! more than the ring behind is closed with [`Closed::SlowConsumer`] instead of
//! slowing anyone else or holding memory, and can resume from the position it
//! reached.
//!
//! A subscriber that gives a starting position (`since`) first replays the log
//! from the store, then joins the ring: it subscribes to the ring before it
//! reads the last stretch from the store, and skips every change at or below
//! the position it has reached, so the hand-over neither loses nor repeats one.
//!
//! A deleted event has no facts left to filter on: deletions go to every
//! subscriber. The HTTP layer (`crates/server/src/routes/stream.rs`) puts this
//! behind WebSocket and Server-Sent Events; this crate holds no HTTP types.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ntsb_model::query::{EventFilter, EventSummary};
use ntsb_store::{Change, Queries, Store};
use serde::Serialize;
use tokio::sync::{Notify, broadcast};

pub use ntsb_store::ChangeKind;

/// Errors of the feed crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The account has [`FeedConfig::max_per_user`] subscriptions open.
    #[error("this account has {limit} live connections open already; close one before opening another")]
    TooManyForUser {
        /// The per-account limit.
        limit: usize,
    },
    /// The process has [`FeedConfig::max_subscribers`] subscriptions open.
    #[error("this server has {limit} live connections open already; try again later")]
    TooMany {
        /// The process-wide limit.
        limit: usize,
    },
    /// `since` names a position the change log has not reached (a position of
    /// another store, or of this store before a restore).
    #[error("position {since} is beyond the latest change ({head}); start again without it")]
    SinceAhead {
        /// The position asked for.
        since: u64,
        /// The latest position of the log.
        head: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] ntsb_store::Error),
    /// The engine has stopped (the server is shutting down).
    #[error("the live feed has stopped")]
    Stopped,
}

/// Result of the feed crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Settings of a [`Feed`].
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// Changes a subscriber may fall behind the newest before it is closed as
    /// a slow consumer (the ring's size; memory is bounded by it whatever the
    /// number of subscribers). Default 4,096.
    pub buffer: usize,
    /// How often the engine looks for new changes when nothing woke it.
    /// Default 200 ms.
    pub poll: Duration,
    /// Changes read from the store at a time. Default 1,000.
    pub read_batch: usize,
    /// Subscriptions one account may hold at once. Default 5.
    pub max_per_user: usize,
    /// Subscriptions this process serves at once. Default 20,000.
    pub max_subscribers: usize,
}

impl Default for FeedConfig {
    fn default() -> FeedConfig {
        FeedConfig {
            buffer: 4096,
            poll: Duration::from_millis(200),
            read_batch: 1000,
            max_per_user: 5,
            max_subscribers: 20_000,
        }
    }
}

/// One change as delivered: its position, what happened, and the message
/// (JSON, written once for every subscriber).
#[derive(Debug)]
pub struct FeedChange {
    /// Position in the store's change log.
    pub seq: u64,
    /// Created, updated or deleted.
    pub kind: ChangeKind,
    /// The event's `ev_id`, when it has one.
    pub ev_id: Option<String>,
    /// The message: `{"seq", "kind", "ev_id", "ntsb_no", "fields", "changed_at", "event"}`.
    pub json: Arc<str>,
    event_id: i64,
    /// Ids of the filters this change matches, sorted.
    matched: Vec<u32>,
    /// The highest filter id that was evaluated for this change.
    evaluated: u32,
}

#[derive(Serialize)]
struct Message<'a> {
    seq: u64,
    kind: ChangeKind,
    ev_id: Option<&'a str>,
    ntsb_no: Option<&'a str>,
    fields: &'a [String],
    changed_at: &'a str,
    /// The event as stored now (`null` for a deleted event).
    event: Option<&'a EventSummary>,
}

/// Why a subscription ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// The subscriber fell more than [`FeedConfig::buffer`] changes behind;
    /// `position` is the last change it was given (resume after it).
    SlowConsumer {
        /// Changes it missed on the ring.
        behind: u64,
        /// The last position delivered.
        position: u64,
    },
    /// The engine stopped (shutdown).
    Stopped,
    /// The store failed while replaying.
    Failed(String),
}

impl Closed {
    /// A sentence for the client (a WebSocket close reason, an SSE error event).
    pub fn reason(&self) -> String {
        match self {
            Closed::SlowConsumer { behind, position } => {
                format!("slow consumer: fell {behind} changes behind; reconnect with since={position} to resume")
            }
            Closed::Stopped => "the server is shutting down".into(),
            Closed::Failed(why) => format!("the feed failed: {why}"),
        }
    }
}

/// Counters of the feed, for `/metrics`.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Open subscriptions.
    pub subscribers: AtomicI64,
    /// Changes published on the ring.
    pub published: AtomicU64,
    /// Changes handed to subscribers (each delivery counts once).
    pub delivered: AtomicU64,
    /// Subscribers closed as slow consumers.
    pub dropped_slow: AtomicU64,
    /// Subscriptions refused by a connection limit.
    pub refused: AtomicU64,
    /// Store errors met by the engine.
    pub errors: AtomicU64,
    /// Latest position of the store's change log the engine has seen.
    pub head: AtomicU64,
}

/// Filter ids: 0 is "everything"; every other distinct filter gets its own,
/// counted while subscriptions use it.
#[derive(Default)]
struct Filters {
    next: u32,
    by_key: HashMap<String, u32>,
    by_id: HashMap<u32, (EventFilter, usize)>,
}

impl Filters {
    fn acquire(&mut self, filter: &EventFilter) -> u32 {
        let key = filter_key(filter);
        if key == filter_key(&EventFilter::default()) {
            return 0;
        }
        if let Some(id) = self.by_key.get(&key) {
            if let Some(entry) = self.by_id.get_mut(id) {
                entry.1 += 1;
            }
            return *id;
        }
        self.next += 1;
        let id = self.next;
        self.by_key.insert(key, id);
        self.by_id.insert(id, (filter.clone(), 1));
        id
    }

    fn release(&mut self, id: u32) {
        if id == 0 {
            return;
        }
        let gone = match self.by_id.get_mut(&id) {
            Some(entry) => {
                entry.1 -= 1;
                entry.1 == 0
            }
            None => false,
        };
        if gone && let Some((filter, _)) = self.by_id.remove(&id) {
            self.by_key.remove(&filter_key(&filter));
        }
    }

    fn snapshot(&self) -> (u32, Vec<(u32, EventFilter)>) {
        (self.next, self.by_id.iter().map(|(id, (f, _))| (*id, f.clone())).collect())
    }
}

fn filter_key(filter: &EventFilter) -> String {
    serde_json::to_string(filter).unwrap_or_default()
}

struct Inner {
    store: Arc<dyn Store>,
    queries: Arc<dyn Queries>,
    config: FeedConfig,
    ring: broadcast::Sender<Arc<FeedChange>>,
    /// Position of the last change published on the ring. Stored before the
    /// change is sent (see [`Subscription::next`] for why).
    published: AtomicU64,
    filters: Mutex<Filters>,
    users: Mutex<HashMap<i64, usize>>,
    stats: Arc<FeedStats>,
    wake: Notify,
    stopped: AtomicBool,
    /// Turns true on [`Feed::stop`]; subscriptions waiting on the ring wake.
    stop: tokio::sync::watch::Sender<bool>,
}

/// The feed engine of one process. Cheap to clone.
#[derive(Clone)]
pub struct Feed {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").field("published", &self.inner.published.load(Ordering::Relaxed)).finish()
    }
}

impl Feed {
    /// An engine over `store` (its change log) and `queries` (summaries and
    /// filters; normally the same object), starting at the log's current head:
    /// changes committed before it are reached only by a `since`. Call
    /// [`Feed::start`] on a Tokio runtime to run it.
    pub fn new(store: Arc<dyn Store>, queries: Arc<dyn Queries>, config: FeedConfig) -> Result<Feed> {
        let head = store.change_log_head()?;
        let (ring, _) = broadcast::channel(config.buffer.max(1));
        let stats = Arc::new(FeedStats::default());
        stats.head.store(head, Ordering::Relaxed);
        Ok(Feed {
            inner: Arc::new(Inner {
                store,
                queries,
                config,
                ring,
                published: AtomicU64::new(head),
                filters: Mutex::new(Filters::default()),
                users: Mutex::new(HashMap::new()),
                stats,
                wake: Notify::new(),
                stopped: AtomicBool::new(false),
                stop: tokio::sync::watch::channel(false).0,
            }),
        })
    }

    /// Spawns the engine on the current Tokio runtime; it runs until
    /// [`Feed::stop`].
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(run(Arc::clone(&self.inner)))
    }

    /// Looks for new changes now rather than at the next poll (after a commit
    /// this process made, or a change notification from the database).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Stops the engine; open subscriptions end with [`Closed::Stopped`] once
    /// they have read what was published.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.stop.send_replace(true);
        self.inner.wake.notify_one();
    }

    /// The feed's counters.
    pub fn stats(&self) -> Arc<FeedStats> {
        Arc::clone(&self.inner.stats)
    }

    /// The settings.
    pub fn config(&self) -> &FeedConfig {
        &self.inner.config
    }

    /// Position of the last change published.
    pub fn position(&self) -> u64 {
        self.inner.published.load(Ordering::SeqCst)
    }

    /// Opens a subscription for `user` (counted against
    /// [`FeedConfig::max_per_user`]) to changes matching `filter` (`event_ids`
    /// must be unset), from `since` (every change after that position, replayed
    /// from the store first) or, without it, from now.
    pub async fn subscribe(&self, user: i64, filter: EventFilter, since: Option<u64>) -> Result<Subscription> {
        let inner = &self.inner;
        if inner.stopped.load(Ordering::SeqCst) {
            return Err(Error::Stopped);
        }
        if let Some(since) = since {
            let store = Arc::clone(&inner.store);
            let head = blocking(move || Ok(store.change_log_head()?)).await?;
            if since > head {
                return Err(Error::SinceAhead { since, head });
            }
        }
        {
            let mut users = inner.users.lock().unwrap_or_else(|p| p.into_inner());
            let open: usize = users.values().sum();
            if open >= inner.config.max_subscribers {
                inner.stats.refused.fetch_add(1, Ordering::Relaxed);
                return Err(Error::TooMany { limit: inner.config.max_subscribers });
            }
            let mine = users.entry(user).or_default();
            if *mine >= inner.config.max_per_user {
                inner.stats.refused.fetch_add(1, Ordering::Relaxed);
                return Err(Error::TooManyForUser { limit: inner.config.max_per_user });
            }
            *mine += 1;
        }
        inner.stats.subscribers.fetch_add(1, Ordering::Relaxed);
        let filter_id = inner.filters.lock().unwrap_or_else(|p| p.into_inner()).acquire(&filter);
        let mut sub = Subscription {
            stop: inner.stop.subscribe(),
            inner: Arc::clone(inner),
            user,
            filter,
            filter_id,
            position: 0,
            read: 0,
            queue: VecDeque::new(),
            state: State::Replaying { rx: None, until: 0 },
        };
        match since {
            Some(since) => {
                sub.position = since;
                sub.read = since;
            }
            None => {
                // Subscribe first, then read the position: a change published
                // after that read is on the ring (see `next`).
                let rx = inner.ring.subscribe();
                let now = inner.published.load(Ordering::SeqCst);
                sub.position = now;
                sub.read = now;
                sub.state = State::Live(rx);
            }
        }
        Ok(sub)
    }
}

enum State {
    /// Reading the store; once caught up, `rx` (subscribed) takes over after
    /// position `until`.
    Replaying {
        rx: Option<broadcast::Receiver<Arc<FeedChange>>>,
        until: u64,
    },
    Live(broadcast::Receiver<Arc<FeedChange>>),
}

/// One subscriber's view of the feed. Dropping it frees its connection slot.
pub struct Subscription {
    inner: Arc<Inner>,
    stop: tokio::sync::watch::Receiver<bool>,
    user: i64,
    filter: EventFilter,
    filter_id: u32,
    /// The last position delivered.
    position: u64,
    /// The last position read (delivered or filtered out).
    read: u64,
    queue: VecDeque<Arc<FeedChange>>,
    state: State,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("user", &self.user).field("position", &self.position).finish()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.inner.filters.lock().unwrap_or_else(|p| p.into_inner()).release(self.filter_id);
        let mut users = self.inner.users.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = users.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                users.remove(&self.user);
            }
        }
        self.inner.stats.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Subscription {
    /// The last position delivered: a client that reconnects with it as
    /// `since` gets exactly the changes after it.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next change matching the filter, waiting for one; an error says why
    /// the subscription ended (it will give nothing more).
    pub async fn next(&mut self) -> std::result::Result<Arc<FeedChange>, Closed> {
        loop {
            if let Some(change) = self.queue.pop_front() {
                self.position = change.seq;
                self.inner.stats.delivered.fetch_add(1, Ordering::Relaxed);
                return Ok(change);
            }
            match &mut self.state {
                State::Replaying { rx, until } => {
                    if rx.is_some() && self.read >= *until {
                        let Some(rx) = rx.take() else { continue };
                        self.state = State::Live(rx);
                        continue;
                    }
                    let caught_up = self.replay_chunk().await?;
                    if caught_up
                        && let State::Replaying { rx, until } = &mut self.state
                        && rx.is_none()
                    {
                        // Join the ring, then read the position: every change
                        // after it is on the ring; those up to it are read
                        // from the store first (engine: position stored
                        // before the change is sent).
                        *rx = Some(self.inner.ring.subscribe());
                        *until = self.inner.published.load(Ordering::SeqCst);
                    }
                }
                State::Live(rx) => match tokio::select! {
                    biased;
                    r = rx.recv() => r,
                    _ = self.stop.changed() => return Err(Closed::Stopped),
                } {
                    Ok(change) => {
                        if change.seq <= self.read {
                            continue;
                        }
                        self.read = change.seq;
                        if self.matches(&change).await? {
                            self.queue.push_back(change);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(behind)) => {
                        self.inner.stats.dropped_slow.fetch_add(1, Ordering::Relaxed);
                        return Err(Closed::SlowConsumer { behind, position: self.position });
                    }
                    Err(broadcast::error::RecvError::Closed) => return Err(Closed::Stopped),
                },
            }
        }
    }

    /// Reads the next stretch of the log from the store into the queue;
    /// returns whether it reached the end of the log.
    async fn replay_chunk(&mut self) -> std::result::Result<bool, Closed> {
        let (store, queries) = (Arc::clone(&self.inner.store), Arc::clone(&self.inner.queries));
        let (after, limit) = (self.read, self.inner.config.read_batch.max(1));
        let filters = if self.filter_id == 0 { Vec::new() } else { vec![(self.filter_id, self.filter.clone())] };
        let (full, last, changes) = blocking(move || {
            let changes = store.changes(after, limit)?;
            let last = changes.last().map(|c| c.seq);
            let full = changes.len() == limit;
            Ok((full, last, describe(&*queries, changes, &filters, u32::MAX)?))
        })
        .await
        .map_err(|e| Closed::Failed(e.to_string()))?;
        if let Some(last) = last {
            self.read = last;
        }
        for change in changes {
            if self.matches_known(&change) {
                self.queue.push_back(Arc::new(change));
            }
        }
        Ok(!full)
    }

    fn matches_known(&self, change: &FeedChange) -> bool {
        self.filter_id == 0
            || change.kind == ChangeKind::Deleted
            || change.matched.binary_search(&self.filter_id).is_ok()
    }

    /// Whether a change from the ring matches; evaluates the filter itself for
    /// a change described before this subscription's filter was registered.
    async fn matches(&self, change: &FeedChange) -> std::result::Result<bool, Closed> {
        if self.filter_id == 0 || change.kind == ChangeKind::Deleted || change.evaluated >= self.filter_id {
            return Ok(self.matches_known(change));
        }
        let queries = Arc::clone(&self.inner.queries);
        let filter = EventFilter { event_ids: Some(vec![change.event_id]), ..self.filter.clone() };
        blocking(move || {
            let mut found = false;
            queries.export_events(&filter, &mut |_| {
                found = true;
                Ok(())
            })?;
            Ok(found)
        })
        .await
        .map_err(|e| Closed::Failed(e.to_string()))
    }
}

/// Describes changes for subscribers: each event's summary as stored now, the
/// filters (of `filters`) each change matches, and the message written once.
fn describe(
    queries: &dyn Queries,
    changes: Vec<Change>,
    filters: &[(u32, EventFilter)],
    evaluated: u32,
) -> Result<Vec<FeedChange>> {
    let ids: Vec<i64> = changes
        .iter()
        .filter(|c| c.kind != ChangeKind::Deleted)
        .map(|c| c.event_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut summaries: HashMap<i64, EventSummary> = HashMap::with_capacity(ids.len());
    let mut matched: HashMap<i64, Vec<u32>> = HashMap::new();
    if !ids.is_empty() {
        let all = EventFilter { event_ids: Some(ids.clone()), ..EventFilter::default() };
        queries.export_events(&all, &mut |s| {
            summaries.insert(s.event_id, s.clone());
            Ok(())
        })?;
        for (id, filter) in filters {
            let f = EventFilter { event_ids: Some(ids.clone()), ..filter.clone() };
            queries.export_events(&f, &mut |s| {
                matched.entry(s.event_id).or_default().push(*id);
                Ok(())
            })?;
        }
    }
    let mut out = Vec::with_capacity(changes.len());
    for c in changes {
        let event = if c.kind == ChangeKind::Deleted { None } else { summaries.get(&c.event_id) };
        let message = Message {
            seq: c.seq,
            kind: c.kind,
            ev_id: c.ev_id.as_deref(),
            ntsb_no: c.ntsb_no.as_deref(),
            fields: &c.fields,
            changed_at: &c.changed_at,
            event,
        };
        let json = serde_json::to_string(&message).map_err(|e| {
            Error::Store(ntsb_store::Error::Corrupt(format!("change {} cannot be written as JSON: {e}", c.seq)))
        })?;
        let mut ids =
            if c.kind == ChangeKind::Deleted { Vec::new() } else { matched.remove(&c.event_id).unwrap_or_default() };
        if c.kind != ChangeKind::Deleted {
            // The same event may change twice in one batch: keep its matches for both.
            matched.insert(c.event_id, ids.clone());
        }
        ids.sort_unstable();
        out.push(FeedChange {
            seq: c.seq,
            kind: c.kind,
            ev_id: c.ev_id,
            json: Arc::from(json),
            event_id: c.event_id,
            matched: ids,
            evaluated,
        });
    }
    Ok(out)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(_) => Err(Error::Stopped),
    }
}

/// The engine: reads the log after the last published position, describes
/// each batch and publishes it on the ring.
async fn run(inner: Arc<Inner>) {
    let mut pause = false;
    loop {
        if pause {
            tokio::select! {
                () = inner.wake.notified() => {}
                () = tokio::time::sleep(inner.config.poll) => {}
            }
        }
        if inner.stopped.load(Ordering::SeqCst) {
            return;
        }
        let after = inner.published.load(Ordering::SeqCst);
        let limit = inner.config.read_batch.max(1);
        let store = Arc::clone(&inner.store);
        let changes = match blocking(move || Ok(store.changes(after, limit)?)).await {
            Ok(c) => c,
            Err(e) => {
                inner.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "the live feed cannot read the change log; retrying");
                pause = true;
                continue;
            }
        };
        let Some(last) = changes.last().map(|c| c.seq) else {
            // Nothing new. A head below our position means the log was reset
            // (a restore or a rollback): follow it from its new head.
            let store = Arc::clone(&inner.store);
            if let Ok(head) = blocking(move || Ok(store.change_log_head()?)).await {
                inner.stats.head.store(head.max(after), Ordering::Relaxed);
                if head < after {
                    tracing::warn!(head, after, "the change log moved back (restore?); the live feed follows it");
                    inner.published.store(head, Ordering::SeqCst);
                    inner.stats.head.store(head, Ordering::Relaxed);
                }
            }
            pause = true;
            continue;
        };
        pause = changes.len() < limit;
        inner.stats.head.fetch_max(last, Ordering::Relaxed);
        if inner.ring.receiver_count() == 0 {
            // No one listens: nothing to describe.
            inner.published.store(last, Ordering::SeqCst);
            continue;
        }
        let (evaluated, filters) = inner.filters.lock().unwrap_or_else(|p| p.into_inner()).snapshot();
        let queries = Arc::clone(&inner.queries);
        let described = match blocking(move || describe(&*queries, changes, &filters, evaluated)).await {
            Ok(d) => d,
            Err(e) => {
                inner.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "the live feed cannot describe changes; retrying");
                pause = true;
                continue;
            }
        };
        for change in described {
            // Position first, then the change: a subscriber that joins between
            // the two reads a position covering the change and finds it in the
            // store, never neither.
            inner.published.store(change.seq, Ordering::SeqCst);
            let _ = inner.ring.send(Arc::new(change));
            inner.stats.published.fetch_add(1, Ordering::Relaxed);
        }
    }
}
