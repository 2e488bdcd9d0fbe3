//! The response cache: answers of cacheable `GET`s kept in memory, keyed by the
//! request target and the store's data version, so a repeated question costs a
//! hash lookup until the data changes.
//!
//! NTSB data changes when a load commits (monthly in practice), while the same
//! statistics are asked again and again. Every entry is keyed by
//! [`ntsb_store::Store::data_version`] as it was *before* the answer was
//! computed, so an answer is never served for data newer than it saw; the
//! version is probed at most every [`PROBE_INTERVAL`] (off the reactor), and a
//! change empties the cache. The cache is bounded in bytes; `0` turns it off.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderValue;
use ntsb_store::Store;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

/// Longest time a change of the data goes unnoticed by the cache.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// Largest single answer kept (bigger ones are served, not cached).
const MAX_ENTRY_BYTES: usize = 8 * 1024 * 1024;

/// Longest request target cached (longer ones are served, not cached).
const MAX_KEY_BYTES: usize = 2048;

/// One cached answer: the body and the headers it was served with.
#[derive(Debug)]
pub struct CachedResponse {
    /// The response body, uncompressed.
    pub body: Bytes,
    /// Its strong `ETag`.
    pub etag: HeaderValue,
    /// Its `Content-Type`, if any.
    pub content_type: Option<HeaderValue>,
}

#[derive(Clone)]
struct ByteWeighter;

impl Weighter<String, Arc<CachedResponse>> for ByteWeighter {
    fn weight(&self, key: &String, value: &Arc<CachedResponse>) -> u64 {
        // Keys and bookkeeping count too, so many tiny answers cannot overrun the budget.
        (key.len() + value.body.len() + 128) as u64
    }
}

/// Hits, misses and size, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Answers served from the cache.
    pub hits: u64,
    /// Cacheable requests computed afresh.
    pub misses: u64,
    /// Entries held now.
    pub entries: u64,
    /// Bytes held now (bodies and keys).
    pub bytes: u64,
    /// Budget in bytes (0: the cache is off).
    pub capacity: u64,
    /// Times the data changed and the cache was emptied.
    pub invalidations: u64,
}

/// The in-process response cache (see the module documentation).
pub struct ResponseCache {
    entries: Option<Cache<String, Arc<CachedResponse>, ByteWeighter>>,
    capacity: u64,
    store: Arc<dyn Store>,
    started: Instant,
    /// Milliseconds since `started` of the last probe (or its start).
    probed_at: AtomicU64,
    /// Whether a version is known (the first probe succeeded).
    known: AtomicBool,
    version: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    /// One lock per key being computed, so concurrent misses for the same
    /// answer wait for one computation instead of all running it.
    in_flight: std::sync::Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl ResponseCache {
    /// A cache of at most `capacity_bytes` over `store`'s data; 0 disables it.
    pub fn new(store: Arc<dyn Store>, capacity_bytes: u64) -> ResponseCache {
        let entries = (capacity_bytes > 0).then(|| {
            // Estimated item count only sizes internal tables; the weight bounds memory.
            let estimated_items = (capacity_bytes / 4096).clamp(64, 1_000_000) as usize;
            Cache::with_weighter(estimated_items, capacity_bytes, ByteWeighter)
        });
        ResponseCache {
            entries,
            capacity: capacity_bytes,
            store,
            started: Instant::now(),
            probed_at: AtomicU64::new(0),
            known: AtomicBool::new(false),
            version: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            in_flight: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The lock of `key`'s computation: hold it while computing the answer, and
    /// look in the cache again once it is acquired (another request may have
    /// filled it meanwhile).
    pub fn computation(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lock) = map.get(key).and_then(Weak::upgrade) {
            return lock;
        }
        if map.len() > 1024 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(key.to_string(), Arc::downgrade(&lock));
        lock
    }

    /// The cached answer under `key` without counting a hit or a miss (the
    /// second look after waiting for a computation).
    pub fn peek(&self, key: &str) -> Option<Arc<CachedResponse>> {
        let found = self.entries.as_ref()?.get(key);
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Whether answers are cached at all.
    pub fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// The key for `target` (path and query) under the current data version,
    /// probing the store when the last probe is older than [`PROBE_INTERVAL`].
    /// `None` when the cache is off, the target is too long, or the data
    /// version cannot be read (the request is then served uncached).
    pub async fn key(&self, target: &str) -> Option<String> {
        self.entries.as_ref()?;
        if target.len() > MAX_KEY_BYTES {
            return None;
        }
        let version = self.current_version().await?;
        Some(format!("{version:x} {target}"))
    }

    async fn current_version(&self) -> Option<u64> {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.probed_at.load(Ordering::Acquire);
        let due = !self.known.load(Ordering::Acquire) || now.saturating_sub(last) >= PROBE_INTERVAL.as_millis() as u64;
        // One request per interval probes; the others use the version known so far.
        if due && self.probed_at.compare_exchange(last, now.max(1), Ordering::AcqRel, Ordering::Acquire).is_ok() {
            let store = self.store.clone();
            match tokio::task::spawn_blocking(move || store.data_version()).await {
                Ok(Ok(version)) => self.observe(version),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "response cache: cannot read the data version; serving uncached");
                    self.known.store(false, Ordering::Release);
                    return None;
                }
                Err(_) => return None,
            }
        }
        self.known.load(Ordering::Acquire).then(|| self.version.load(Ordering::Acquire))
    }

    /// Records a probed version; a change empties the cache.
    fn observe(&self, version: u64) {
        let previous = self.version.swap(version, Ordering::AcqRel);
        let was_known = self.known.swap(true, Ordering::AcqRel);
        if was_known && previous != version {
            self.invalidations.fetch_add(1, Ordering::Relaxed);
            if let Some(entries) = &self.entries {
                entries.clear();
            }
        }
    }

    /// The cached answer under `key`, counting a hit or a miss.
    pub fn get(&self, key: &str) -> Option<Arc<CachedResponse>> {
        let found = self.entries.as_ref()?.get(key);
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `response` under `key` (unless it is larger than an entry may be).
    pub fn put(&self, key: String, response: Arc<CachedResponse>) {
        if let Some(entries) = &self.entries
            && response.body.len() <= MAX_ENTRY_BYTES
        {
            entries.insert(key, response);
        }
    }

    /// Counters and size now.
    pub fn stats(&self) -> CacheStats {
        let (entries, bytes) = self.entries.as_ref().map_or((0, 0), |c| (c.len() as u64, c.weight()));
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries,
            bytes,
            capacity: self.capacity,
            invalidations: self.invalidations.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntsb_store::sqlite::SqliteStore;

    fn response(body: &'static str) -> Arc<CachedResponse> {
        Arc::new(CachedResponse {
            body: Bytes::from_static(body.as_bytes()),
            etag: HeaderValue::from_static("\"x\""),
            content_type: None,
        })
    }

    #[tokio::test]
    async fn a_changed_data_version_empties_the_cache_and_changes_keys() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let cache = ResponseCache::new(store.clone(), 1 << 20);
        let key = cache.key("/api/v1/stats/summary").await.unwrap();
        assert!(cache.get(&key).is_none());
        cache.put(key.clone(), response("{}"));
        assert_eq!(cache.get(&key).unwrap().body, "{}");

        store.migrate().unwrap(); // a commit: the data version moves
        cache.probed_at.store(0, Ordering::Release);
        tokio::time::sleep(PROBE_INTERVAL).await;
        let newer = cache.key("/api/v1/stats/summary").await.unwrap();
        assert_ne!(newer, key);
        assert!(cache.get(&key).is_none(), "the old entry was dropped");
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.invalidations), (1, 2, 1));
    }

    #[tokio::test]
    async fn a_zero_budget_turns_the_cache_off_and_long_targets_are_not_cached() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let off = ResponseCache::new(store.clone(), 0);
        assert!(!off.enabled());
        assert!(off.key("/api/v1/events").await.is_none());
        let on = ResponseCache::new(store, 1 << 20);
        assert!(on.key(&format!("/api/v1/events?q={}", "a".repeat(MAX_KEY_BYTES))).await.is_none());
    }
}
