//! [`AppState`]: what every handler shares.

use std::sync::{Arc, OnceLock};

use tokio::sync::{Semaphore, SemaphorePermit};

use ntsb_ml::Registry;
use ntsb_search::SearchIndex;
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{Backend, Queries, Store, TrainingData};

use ntsb_analytics::Analytics;

use crate::cache::ResponseCache;
use crate::error::ApiError;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::redis_link::RedisLink;

/// Shared handles of the running server. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The store's operational interface (readiness, counts).
    pub store: Arc<dyn Store>,
    /// The store's read interface (listings, statistics, maps, exports).
    pub queries: Arc<dyn Queries>,
    /// The full-text index.
    pub index: Arc<SearchIndex>,
    /// Request metrics, rendered at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The served machine-learning models (empty until models are trained).
    pub ml: Arc<Registry>,
    /// Stored events' facts, for scoring by `ev_id` (absent for backends without it).
    pub training: Option<Arc<dyn TrainingData>>,
    /// Answers of cacheable requests, until the data changes.
    pub cache: Arc<ResponseCache>,
    /// `sqlite` or `postgres` (`store` when built from bare interfaces).
    pub backend: &'static str,
    /// The link to Redis, when configured (shared cache, shared counters).
    pub redis: Option<Arc<RedisLink>>,
    /// Accounts, tokens, keys and limits. Without it, routes that need a user
    /// answer 401 (deny by default), account routes 503, public ones are open.
    pub auth: Option<ntsb_auth::Auth>,
    /// The analytical engine: statistics and listing totals from an in-memory
    /// projection of the store, once it is built (the store answers until then).
    pub analytics: Option<Arc<Analytics>>,
    /// The live change feed behind the stream routes (they answer 503
    /// `unavailable` without it).
    pub live: Option<Arc<Live>>,
    /// Exposition text of engines the server only hosts (the Kafka publisher),
    /// appended to `/metrics` at each scrape.
    pub extra_metrics: Vec<Arc<dyn Fn() -> String + Send + Sync>>,
    /// The sentence-embedding model and vectors of dense and hybrid search
    /// (`serve --embedding-model`); without them search answers by BM25 and says so.
    pub dense: Option<Arc<ntsb_retrieval::Retriever>>,
}

/// Default response cache budget: 256 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("index", &self.index).finish_non_exhaustive()
    }
}

impl AppState {
    /// State over any backend; `store` and `queries` are normally the same object.
    pub fn new(store: Arc<dyn Store>, queries: Arc<dyn Queries>, index: Arc<SearchIndex>) -> AppState {
        let cache = Arc::new(ResponseCache::new(store.clone(), Some(index.clone()), DEFAULT_CACHE_BYTES));
        AppState {
            store,
            queries,
            index,
            metrics: Arc::new(Metrics::new()),
            ml: Arc::new(Registry::empty()),
            training: None,
            cache,
            backend: "store",
            redis: None,
            auth: None,
            analytics: None,
            live: None,
            extra_metrics: Vec::new(),
            dense: None,
        }
    }

    /// The same state with a response cache of `bytes` (0 turns it off).
    pub fn with_cache_bytes(mut self, bytes: u64) -> AppState {
        self.cache = Arc::new(self.new_cache(bytes));
        self
    }

    /// The same state using Redis through `link`: the response cache gains a
    /// shared tier (when the store allows it, see [`ResponseCache::with_shared`]).
    pub fn with_redis(mut self, link: Arc<RedisLink>) -> AppState {
        self.redis = Some(link);
        self.cache = Arc::new(self.new_cache(self.cache.stats().capacity));
        self
    }

    /// The same state answering statistics and totals from `engine` when it is
    /// ready; cached answers then also key on the engine's position in the
    /// store's change log (it catches up after the store, like the index).
    pub fn with_analytics(mut self, engine: Arc<Analytics>) -> AppState {
        self.analytics = Some(engine);
        self.cache = Arc::new(self.new_cache(self.cache.stats().capacity));
        self
    }

    fn new_cache(&self, bytes: u64) -> ResponseCache {
        let mut cache = ResponseCache::new(self.store.clone(), Some(self.index.clone()), bytes);
        if let Some(engine) = &self.analytics {
            cache = cache.with_analytics(engine.clone());
        }
        match &self.redis {
            Some(link) => cache.with_shared(link.clone()),
            None => cache,
        }
    }

    /// State over one store of any backend, used through all of its interfaces.
    pub fn from_backend(store: Arc<dyn Backend>, index: Arc<SearchIndex>) -> AppState {
        let backend = store.backend_name();
        let training: Option<Arc<dyn TrainingData>> = Some(store.clone());
        let queries: Arc<dyn Queries> = store.clone();
        let store: Arc<dyn Store> = store;
        AppState { training, backend, ..AppState::new(store, queries, index) }
    }

    /// State over one SQLite store, used through both of its interfaces.
    pub fn from_sqlite(store: Arc<SqliteStore>, index: Arc<SearchIndex>) -> AppState {
        let queries: Arc<dyn Queries> = store.clone();
        let training: Arc<dyn TrainingData> = store.clone();
        AppState { training: Some(training), backend: "sqlite", ..AppState::new(store, queries, index) }
    }

    /// The same state answering dense and hybrid searches with `retriever`.
    pub fn with_dense(mut self, retriever: Arc<ntsb_retrieval::Retriever>) -> AppState {
        self.dense = Some(retriever);
        self
    }

    /// The same state with accounts, access control and rate limits by `auth`.
    pub fn with_auth(mut self, auth: ntsb_auth::Auth) -> AppState {
        self.auth = Some(auth);
        self
    }

    /// The same state serving the live change feed through `live` (its feed
    /// must be started; see [`ntsb_feed::Feed::start`]).
    pub fn with_live(mut self, live: Live) -> AppState {
        self.live = Some(Arc::new(live));
        self
    }

    /// The same state with `render`'s Prometheus text appended to `/metrics`
    /// (for engines the binary wires in, such as the Kafka publisher).
    pub fn with_extra_metrics(mut self, render: Arc<dyn Fn() -> String + Send + Sync>) -> AppState {
        self.extra_metrics.push(render);
        self
    }

    /// The same state serving the models of `registry`.
    pub fn with_models(mut self, registry: Arc<Registry>) -> AppState {
        self.ml = registry;
        self
    }
}

/// An answer of the analytical engine as the API's error (a rejected filter
/// names its parameter, as the store's does).
pub(crate) fn engine_error(e: ntsb_analytics::Error) -> ApiError {
    match e {
        ntsb_analytics::Error::Store(e) => ApiError::from(e),
        other => ApiError::internal(other.to_string()),
    }
}

/// Most engine calls (SQLite, tantivy) running at once. More would not finish
/// sooner on a few cores: they would open extra store connections (losing their
/// statement caches), hold more memory and thrash; waiting callers queue here as
/// cheap futures instead of as threads.
fn engine_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Semaphore::new((cores * 4).clamp(4, 32))
    })
}

/// Long CPU-bound engine calls (a batch of predictions: milliseconds of CPU
/// each) running at once: one per core, plus one so that no core idles while a
/// finished call hands its answer back. More would share the cores by time
/// slices, so every one of them would finish later and the tail would grow;
/// queued here they are served in arrival order (batches of 100 at 8
/// connections: p99 28 ms with 8 at once, 17.5 ms with 3; docs/PERFORMANCE.md).
fn cpu_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()) + 1))
}

/// [`blocking`] for a call that keeps a core busy for milliseconds, at most
/// one per core at a time (see [`cpu_slots`]).
pub(crate) async fn blocking_cpu<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    let Ok(core) = cpu_slots().acquire().await else {
        return Err(ApiError::internal("the CPU semaphore is closed"));
    };
    run_holding(engine_slots(), Some(core), f).await
}

/// Runs a blocking engine call (SQLite, tantivy) on tokio's blocking pool so it
/// never stalls the reactor, at most [`engine_slots`] at a time.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    run_holding(engine_slots(), None, f).await
}

/// Takes a slot of `slots` and runs `f` on the blocking pool. The slot (and
/// `also`, a slot taken before) moves into the blocking task and is released
/// when `f` returns, not when the awaiting request goes away: a request that
/// times out (or whose client disconnects) drops this future, but the blocking
/// work goes on, and must keep counting against the limit until it ends, or
/// under overload the limits would stop limiting.
async fn run_holding<T, F>(
    slots: &'static Semaphore,
    also: Option<SemaphorePermit<'static>>,
    f: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    let Ok(slot) = slots.acquire().await else {
        return Err(ApiError::internal("the engine semaphore is closed"));
    };
    let work = move || {
        let _held = (slot, also);
        f()
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => Err(ApiError::internal(format!("blocking task failed: {join}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A request abandoned by the time-out middleware drops its future; the
    /// blocking work it started keeps running and must keep its slots until it ends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slots_stay_taken_until_abandoned_blocking_work_ends() {
        static SLOTS: Semaphore = Semaphore::const_new(2);
        static CORES: Semaphore = Semaphore::const_new(1);
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (ended_tx, ended_rx) = mpsc::channel::<()>();
        let core = CORES.acquire().await.expect("core");
        let call = run_holding(&SLOTS, Some(core), move || {
            started_tx.send(()).expect("started");
            release_rx.recv().expect("release");
            ended_tx.send(()).expect("ended");
            Ok(())
        });
        // Abandon the call once its work has started, as the time-out does.
        let abandoned = tokio::spawn(call);
        tokio::task::spawn_blocking(move || started_rx.recv().expect("work started")).await.expect("join");
        abandoned.abort();
        assert!(abandoned.await.expect_err("aborted").is_cancelled());
        assert_eq!(SLOTS.available_permits(), 1, "the engine slot is released while the work still runs");
        assert_eq!(CORES.available_permits(), 0, "the core slot is released while the work still runs");
        release_tx.send(()).expect("release");
        tokio::task::spawn_blocking(move || ended_rx.recv().expect("work ended")).await.expect("join");
        // The permits drop right after `f` returns, on the blocking thread.
        let _both = tokio::join!(SLOTS.acquire_many(2), CORES.acquire());
    }
}
