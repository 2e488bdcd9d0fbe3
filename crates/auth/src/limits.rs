//! Rate limits and quotas over a shared counter store.
//!
//! Every limit is a *fixed window that starts at the first hit*: the first
//! request of a subject creates its counter with the window's length as time to
//! live; each request adds one; the request is allowed while the count is at
//! most the limit; the counter disappears when the window ends. This is what
//! Redis `INCR` + `EXPIRE … NX` gives, so the in-process store below and a
//! Redis one behave the same, and one atomic step per request decides.
//!
//! Limits used by the engine: a per-second burst and a daily quota per subject
//! (user, or client address for anonymous traffic), and login attempts per
//! minute per account and per address.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::clock::Clock;

/// A boxed, sendable future: what [`CounterStore`] methods return, so the trait
/// stays object-safe and an implementation may do network I/O (Redis).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One counter after an increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The count, this increment included.
    pub count: u64,
    /// Seconds until the counter expires (at least 1).
    pub ttl: u64,
}

/// Shared counters with expiry: the only state rate limiting needs.
///
/// Contract (what a Redis implementation must do too):
///
/// * [`CounterStore::increment`] is atomic: concurrent increments of one key
///   from any number of callers (threads, replicas) each see a distinct count.
/// * A key that does not exist (or has expired) is created with value 0 and
///   time to live `ttl_secs` before the increment; an existing key keeps its
///   expiry (the window is fixed from the first hit). In Redis:
///   `INCRBY key by` then `EXPIRE key ttl NX`, then `TTL key`, in one
///   `MULTI`/`EXEC` or a Lua script.
/// * Keys are plain strings chosen by the engine (`q:day:u:42`, `login:ip:…`);
///   implementations may prefix them.
/// * Errors are reported, not hidden: the engine fails closed on a counter
///   error for logins and open (with a logged error) for ordinary requests.
pub trait CounterStore: Send + Sync + std::fmt::Debug {
    /// Adds `by` to `key` (see the trait documentation) and returns the new count
    /// and the remaining time to live.
    fn increment<'a>(&'a self, key: &'a str, by: u64, ttl_secs: u64) -> BoxFuture<'a, Result<Hit, CounterError>>;
}

/// A counter store failed (unreachable Redis, say).
#[derive(Debug, Clone, thiserror::Error)]
#[error("rate-limit counters: {0}")]
pub struct CounterError(pub String);

/// Counters in this process's memory: exact for one replica, lost on restart.
/// Expired counters are swept as the map grows.
#[derive(Debug)]
pub struct MemoryCounters {
    clock: Arc<dyn Clock>,
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    counters: HashMap<String, (u64, i64)>,
    /// Size of the map after the last sweep: the next sweep happens at twice that.
    swept_at: usize,
}

impl MemoryCounters {
    /// Empty counters on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> MemoryCounters {
        MemoryCounters { clock, inner: Mutex::new(MemoryInner::default()) }
    }

    /// Counters alive now (tests, metrics).
    pub fn len(&self) -> usize {
        let now = self.clock.now();
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).counters.values().filter(|(_, exp)| *exp > now).count()
    }

    /// Whether no counter is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn increment_now(&self, key: &str, by: u64, ttl_secs: u64) -> Hit {
        let now = self.clock.now();
        let ttl = i64::try_from(ttl_secs.max(1)).unwrap_or(i64::MAX);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.counters.len() >= 1024 && inner.counters.len() >= inner.swept_at.saturating_mul(2) {
            inner.counters.retain(|_, (_, exp)| *exp > now);
            inner.swept_at = inner.counters.len().max(512);
        }
        let entry = inner.counters.entry(key.to_string()).or_insert((0, now.saturating_add(ttl)));
        if entry.1 <= now {
            *entry = (0, now.saturating_add(ttl));
        }
        entry.0 = entry.0.saturating_add(by);
        Hit { count: entry.0, ttl: u64::try_from(entry.1 - now).unwrap_or(1).max(1) }
    }
}

impl CounterStore for MemoryCounters {
    fn increment<'a>(&'a self, key: &'a str, by: u64, ttl_secs: u64) -> BoxFuture<'a, Result<Hit, CounterError>> {
        let hit = self.increment_now(key, by, ttl_secs);
        Box::pin(std::future::ready(Ok(hit)))
    }
}

/// The state of one limit after a request was counted: what the
/// `RateLimit-*` headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// What is limited: `daily quota`, `burst`, `login attempts`.
    pub scope: &'static str,
    /// Requests allowed per window.
    pub limit: u64,
    /// Requests left in the window (0 when over).
    pub remaining: u64,
    /// Seconds until the window ends (the `Retry-After` when over).
    pub reset: u64,
}

impl Limit {
    /// Counts `hit` against `limit`; `Err` when over.
    pub(crate) fn judge(scope: &'static str, limit: u64, hit: Hit) -> Result<Limit, Limit> {
        let state = Limit { scope, limit, remaining: limit.saturating_sub(hit.count), reset: hit.ttl };
        if hit.count > limit { Err(state) } else { Ok(state) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn windows_start_at_the_first_hit_and_expire() {
        let clock = Arc::new(ManualClock::new(1_000));
        let c = MemoryCounters::new(clock.clone());
        assert_eq!(c.increment("k", 1, 60).await.unwrap(), Hit { count: 1, ttl: 60 });
        clock.advance(59);
        assert_eq!(c.increment("k", 1, 60).await.unwrap(), Hit { count: 2, ttl: 1 });
        clock.advance(1);
        assert_eq!(c.increment("k", 1, 60).await.unwrap(), Hit { count: 1, ttl: 60 });
        assert_eq!(c.increment("other", 5, 10).await.unwrap(), Hit { count: 5, ttl: 10 });
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn expired_counters_are_swept_as_the_map_grows() {
        let clock = Arc::new(ManualClock::new(0));
        let c = MemoryCounters::new(clock.clone());
        for i in 0..5000 {
            c.increment_now(&format!("k{i}"), 1, 1);
        }
        clock.advance(2);
        for i in 0..4000 {
            c.increment_now(&format!("j{i}"), 1, 1);
        }
        let stored = c.inner.lock().unwrap().counters.len();
        assert!(stored < 5000, "expired counters were kept: {stored}");
        assert_eq!(c.len(), 4000);
    }

    #[test]
    fn judging_reports_remaining_and_refuses_past_the_limit() {
        assert_eq!(
            Limit::judge("q", 3, Hit { count: 3, ttl: 9 }),
            Ok(Limit { scope: "q", limit: 3, remaining: 0, reset: 9 })
        );
        assert!(Limit::judge("q", 3, Hit { count: 4, ttl: 9 }).is_err());
    }
}
