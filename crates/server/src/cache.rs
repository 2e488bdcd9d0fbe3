//! The response cache: answers of cacheable `GET`s kept in memory, keyed by the
//! request target and the version of the data (the store's data version and the
//! search index's position in the store's change log), so a repeated question
//! costs a hash lookup until the data changes.
//!
//! NTSB data changes when a load commits (monthly in practice), while the same
//! statistics are asked again and again. Every entry is keyed by
//! [`ntsb_store::Store::data_version`] as it was *before* the answer was
//! computed, so an answer is never served for data newer than it saw; the
//! version is probed at most every [`PROBE_INTERVAL`] (off the reactor), and a
//! change empties the cache. The cache is bounded in bytes; `0` turns it off.
//!
//! With Redis configured ([`RedisLink`]) and a store whose data version is the
//! database's own (PostgreSQL), answers are also shared between API replicas:
//! a local miss looks in Redis before computing, and a computed answer is
//! written there too. Shared keys name the store's lineage
//! ([`ntsb_store::Store::store_id`]), the data version and the build, so a
//! replica never reads an answer computed over other data or by another
//! release; old entries are never read again and expire after [`SHARED_TTL`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderValue;
use ntsb_search::SearchIndex;

use crate::redis_link::RedisLink;
use ntsb_store::Store;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

/// Longest time a change of the data goes unnoticed by the cache.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// Largest single answer kept (bigger ones are served, not cached).
const MAX_ENTRY_BYTES: usize = 8 * 1024 * 1024;

/// Longest request target cached (longer ones are served, not cached).
const MAX_KEY_BYTES: usize = 2048;

/// Largest answer shared through Redis (bigger ones stay local).
const MAX_SHARED_BYTES: usize = 1024 * 1024;

/// How long Redis keeps a shared answer.
pub const SHARED_TTL: Duration = Duration::from_secs(600);

/// One cached answer: the body and the headers it was served with.
#[derive(Debug)]
pub struct CachedResponse {
    /// The response body, uncompressed.
    pub body: Bytes,
    /// Its strong `ETag`.
    pub etag: HeaderValue,
    /// Its `Content-Type`, if any.
    pub content_type: Option<HeaderValue>,
    /// The body gzipped, made on the first request that accepts gzip and kept
    /// with the answer: a large page (the map's HTML is 850 KB) was compressed
    /// again on every hit, which cost 60 times the hit itself. `None` inside
    /// when compressing does not pay (small or already compressed bodies). Not
    /// counted in the cache's weight: it is at most the body's size, and only
    /// exists for answers some client asked gzipped.
    gzip: std::sync::OnceLock<Option<Bytes>>,
}

/// Bodies smaller than this are sent as they are.
const MIN_GZIP_BYTES: usize = 1024;

impl CachedResponse {
    /// An answer to cache.
    pub fn new(body: Bytes, etag: HeaderValue, content_type: Option<HeaderValue>) -> CachedResponse {
        CachedResponse { body, etag, content_type, gzip: std::sync::OnceLock::new() }
    }

    /// The body gzipped, when that is worth sending (made once).
    pub fn gzipped(&self) -> Option<&Bytes> {
        self.gzip
            .get_or_init(|| {
                use std::io::Write;
                if self.body.len() < MIN_GZIP_BYTES || !compressible(self.content_type.as_ref()) {
                    return None;
                }
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(&self.body).ok()?;
                let packed = encoder.finish().ok()?;
                (packed.len() < self.body.len()).then(|| Bytes::from(packed))
            })
            .as_ref()
    }
}

/// Text, JSON, JavaScript and SVG compress; images, archives and the unknown are left alone.
fn compressible(content_type: Option<&HeaderValue>) -> bool {
    let Some(ct) = content_type.and_then(|v| v.to_str().ok()) else { return false };
    let ct = ct.to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("javascript")
        || ct.contains("svg")
        || ct.contains("xml")
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
    /// Answers found in the shared (Redis) tier after a local miss.
    pub shared_hits: u64,
}

/// The in-process response cache (see the module documentation).
pub struct ResponseCache {
    entries: Option<Cache<String, Arc<CachedResponse>, ByteWeighter>>,
    capacity: u64,
    store: Arc<dyn Store>,
    index: Option<Arc<SearchIndex>>,
    /// The analytical engine, whose answers depend on its position in the change log.
    analytics: Option<Arc<ntsb_analytics::Analytics>>,
    /// The shared tier, when Redis is configured and the store's versions are global.
    shared: Option<Arc<RedisLink>>,
    /// `ntsb:<release>:resp:<store id>:` once the store's id is known.
    shared_prefix: std::sync::Mutex<Option<Arc<str>>>,
    shared_hits: AtomicU64,
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
    /// A cache of at most `capacity_bytes` over `store`'s data and, when given,
    /// the full-text `index` kept from it (search answers depend on both); 0
    /// disables it.
    pub fn new(store: Arc<dyn Store>, index: Option<Arc<SearchIndex>>, capacity_bytes: u64) -> ResponseCache {
        let entries = (capacity_bytes > 0).then(|| {
            // Estimated item count only sizes internal tables; the weight bounds memory.
            let estimated_items = (capacity_bytes / 4096).clamp(64, 1_000_000) as usize;
            Cache::with_weighter(estimated_items, capacity_bytes, ByteWeighter)
        });
        ResponseCache {
            entries,
            capacity: capacity_bytes,
            store,
            index,
            shared: None,
            shared_prefix: std::sync::Mutex::new(None),
            shared_hits: AtomicU64::new(0),
            started: Instant::now(),
            probed_at: AtomicU64::new(0),
            known: AtomicBool::new(false),
            version: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            in_flight: std::sync::Mutex::new(HashMap::new()),
            analytics: None,
        }
    }

    /// The same cache keying answers also on `engine`'s position in the
    /// store's change log (statistics are answered from its projection, which
    /// catches up after the store).
    pub fn with_analytics(mut self, engine: Arc<ntsb_analytics::Analytics>) -> ResponseCache {
        self.analytics = Some(engine);
        self
    }

    /// The same cache with a shared tier in `link` — used only when the store's
    /// data version means the same in every process (see the module documentation).
    pub fn with_shared(mut self, link: Arc<RedisLink>) -> ResponseCache {
        if self.entries.is_some() && self.store.data_version_is_global() {
            self.shared = Some(link);
        }
        self
    }

    /// Whether answers are shared through Redis.
    pub fn shares(&self) -> bool {
        self.shared.is_some()
    }

    /// The answer under `key` in the shared tier (counted as a hit there), or
    /// `None` (absent, not shared, or Redis unavailable).
    pub async fn get_shared(&self, key: &str) -> Option<Arc<CachedResponse>> {
        let link = self.shared.as_ref()?;
        let prefix = self.shared_prefix.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        let bytes = link.get(&format!("{prefix}{key}")).await?;
        let found = Arc::new(decode(&bytes)?);
        self.shared_hits.fetch_add(1, Ordering::Relaxed);
        if let Some(entries) = &self.entries {
            entries.insert(key.to_string(), found.clone());
        }
        Some(found)
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
            let (store, index, shared) = (self.store.clone(), self.index.clone(), self.shared.is_some());
            let analytics = self.analytics.clone();
            let probe = move || {
                let mut version = data_version(store.as_ref(), index.as_deref())?;
                if let Some(engine) = analytics {
                    version ^= engine.position().rotate_left(32).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
                }
                let id = if shared { store.store_id().map_err(|e| e.to_string())? } else { None };
                Ok::<_, String>((version, id))
            };
            match tokio::task::spawn_blocking(probe).await {
                Ok(Ok((version, id))) => {
                    let prefix = id.map(|id| Arc::from(format!("ntsb:{}:resp:{id}:", env!("CARGO_PKG_VERSION"))));
                    *self.shared_prefix.lock().unwrap_or_else(|p| p.into_inner()) = prefix;
                    self.observe(version)
                }
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

    /// Keeps `response` under `key` (unless it is larger than an entry may be),
    /// and writes it to the shared tier in the background.
    pub fn put(&self, key: String, response: Arc<CachedResponse>) {
        if let (Some(link), Some(prefix)) =
            (&self.shared, self.shared_prefix.lock().unwrap_or_else(|p| p.into_inner()).clone())
            && response.body.len() <= MAX_SHARED_BYTES
        {
            let (link, shared_key, bytes) = (link.clone(), format!("{prefix}{key}"), encode(&response));
            tokio::spawn(async move { link.set(&shared_key, &bytes, SHARED_TTL).await });
        }
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
            shared_hits: self.shared_hits.load(Ordering::Relaxed),
        }
    }
}

/// A cached answer as bytes for Redis: format byte, then the `ETag` and the
/// content type each with a 2-byte length, then the body.
fn encode(response: &CachedResponse) -> Vec<u8> {
    let etag = response.etag.as_bytes();
    let ct = response.content_type.as_ref().map_or(&[][..], |v| v.as_bytes());
    let mut out = Vec::with_capacity(5 + etag.len() + ct.len() + response.body.len());
    out.push(1);
    for part in [etag, ct] {
        out.extend_from_slice(&(part.len().min(u16::MAX as usize) as u16).to_be_bytes());
        out.extend_from_slice(&part[..part.len().min(u16::MAX as usize)]);
    }
    out.extend_from_slice(&response.body);
    out
}

/// The answer [`encode`] wrote; `None` for anything else (another release's
/// format, a damaged value), which is then computed afresh.
fn decode(bytes: &[u8]) -> Option<CachedResponse> {
    let (&format, mut rest) = bytes.split_first()?;
    if format != 1 {
        return None;
    }
    let etag = HeaderValue::from_bytes(take_field(&mut rest)?).ok()?;
    let ct = take_field(&mut rest)?;
    let content_type = if ct.is_empty() { None } else { Some(HeaderValue::from_bytes(ct).ok()?) };
    Some(CachedResponse::new(Bytes::copy_from_slice(rest), etag, content_type))
}

/// Takes one length-prefixed field off the front of `rest`.
fn take_field<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let bytes: &'a [u8] = rest;
    let len = u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]) as usize;
    let value = bytes.get(2..2 + len)?;
    *rest = &bytes[2 + len..];
    Some(value)
}

/// The store's data version combined with the index's position in the store's
/// change log. The index is refreshed first, so an answer computed under the
/// returned version sees at least that position (another process sharing the
/// index directory may have committed to it).
fn data_version(store: &dyn Store, index: Option<&SearchIndex>) -> Result<u64, String> {
    let data = store.data_version().map_err(|e| e.to_string())?;
    let position = match index {
        Some(index) => index.refresh().map_err(|e| e.to_string())?,
        None => 0,
    };
    Ok(data.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ position)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntsb_store::sqlite::SqliteStore;

    fn response(body: &'static str) -> Arc<CachedResponse> {
        Arc::new(CachedResponse::new(Bytes::from_static(body.as_bytes()), HeaderValue::from_static("\"x\""), None))
    }

    #[tokio::test]
    async fn a_changed_data_version_empties_the_cache_and_changes_keys() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let cache = ResponseCache::new(store.clone(), None, 1 << 20);
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

    #[test]
    fn shared_entries_round_trip_and_foreign_bytes_are_refused() {
        let r = CachedResponse::new(
            Bytes::from_static(b"{\"events\":1}"),
            HeaderValue::from_static("\"abc\""),
            Some(HeaderValue::from_static("application/json")),
        );
        let back = decode(&encode(&r)).unwrap();
        assert_eq!((back.body, back.etag, back.content_type), (r.body.clone(), r.etag.clone(), r.content_type.clone()));
        let bare = CachedResponse::new(r.body.clone(), r.etag.clone(), None);
        assert_eq!(decode(&encode(&bare)).unwrap().content_type, None);
        assert!(decode(b"").is_none());
        assert!(decode(b"\x02whatever").is_none(), "another format version");
        assert!(decode(b"\x01\x00\x09ab").is_none(), "truncated");
    }

    #[tokio::test]
    async fn a_zero_budget_turns_the_cache_off_and_long_targets_are_not_cached() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let off = ResponseCache::new(store.clone(), None, 0);
        assert!(!off.enabled());
        assert!(off.key("/api/v1/events").await.is_none());
        let on = ResponseCache::new(store, None, 1 << 20);
        assert!(on.key(&format!("/api/v1/events?q={}", "a".repeat(MAX_KEY_BYTES))).await.is_none());
    }
}
