//! Rate-limit counters shared by every replica through Redis
//! ([`ntsb_auth::CounterStore`]), without a network round trip on most requests.
//!
//! Each replica counts a key in its own memory and settles with Redis at most
//! every `sync_every` ([`COUNTER_SYNC`] by default): the first request for a key
//! in a window, and then one request per interval, adds what this replica
//! counted meanwhile to Redis's counter and learns the total of all replicas;
//! every other request is a map update. [`SharedCounters::flush`], run every
//! interval on a thread of its own, hands over what keys that went quiet still hold.
//!
//! The price is a bounded lag: a replica does not see the other replicas'
//! requests of the last interval, so all replicas together may admit, per key,
//! up to what the others admitted in one interval beyond a limit. Within one
//! replica counting stays exact, and a limit is never lowered. With
//! `sync_every` zero every increment goes to Redis (exact, one round trip each).
//!
//! While Redis is unavailable ([`RedisLink`] returns nothing), counting falls
//! back to this process's own counters, so limits still hold per replica.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ntsb_auth::limits::{BoxFuture, CounterError};
use ntsb_auth::{CounterStore, Hit, MemoryCounters};

use crate::redis_link::RedisLink;

/// How long a replica counts a key on its own before settling with Redis.
pub const COUNTER_SYNC: Duration = Duration::from_millis(250);

/// Prefix of the counter keys in Redis, followed by the deployment's namespace.
const COUNTER_PREFIX: &str = "ntsb:rl:";

/// One key's state in this replica.
#[derive(Debug)]
struct Local {
    /// Redis's count (every replica's requests) at the last settlement.
    shared: u64,
    /// Counted here since, not yet added to Redis.
    pending: u64,
    /// When the key's window ends (from Redis's time to live).
    expires: Instant,
    /// When it last settled with Redis.
    settled: Instant,
    /// A request is settling it now: the others count locally meanwhile.
    settling: bool,
}

impl Local {
    /// A key that settles for the first time in its window.
    fn new(now: Instant) -> Local {
        Local { shared: 0, pending: 0, expires: now, settled: now, settling: false }
    }

    /// Redis answered `count`, with `left` of the window to run.
    fn settle(&mut self, count: u64, left: Duration, now: Instant) {
        self.shared = count;
        self.expires = now + left;
        self.settled = now;
        self.settling = false;
    }

    fn hit(&self, now: Instant) -> Hit {
        Hit { count: self.shared + self.pending, ttl: seconds_left(self.expires, now) }
    }
}

fn seconds_left(until: Instant, now: Instant) -> u64 {
    until.saturating_duration_since(now).as_secs_f64().ceil().max(1.0) as u64
}

/// Counters in Redis, counted locally between settlements (see the module
/// documentation), in `fallback` while Redis is away.
#[derive(Debug)]
pub struct SharedCounters {
    link: Arc<RedisLink>,
    fallback: MemoryCounters,
    sync_every: Duration,
    /// `ntsb:rl:<namespace>:`, so deployments sharing a Redis database never
    /// share counters.
    prefix: String,
    local: Mutex<HashMap<String, Local>>,
}

impl SharedCounters {
    /// Counters in Redis through `link` under `namespace` (what the replicas of
    /// one deployment share and no other deployment uses: `ntsb serve` passes the
    /// store's id), settling every [`COUNTER_SYNC`], else in `fallback`; starts
    /// their flusher thread (it ends with the counters).
    pub fn new(
        link: Arc<RedisLink>,
        fallback: MemoryCounters,
        namespace: &str,
    ) -> std::io::Result<Arc<SharedCounters>> {
        SharedCounters::with_sync_interval(link, fallback, namespace, COUNTER_SYNC)
    }

    /// The same, settling every `sync_every` (zero: every increment goes to Redis,
    /// exact, one round trip each).
    pub fn with_sync_interval(
        link: Arc<RedisLink>,
        fallback: MemoryCounters,
        namespace: &str,
        sync_every: Duration,
    ) -> std::io::Result<Arc<SharedCounters>> {
        let prefix = format!("{COUNTER_PREFIX}{namespace}:");
        let counters =
            Arc::new(SharedCounters { link, fallback, sync_every, prefix, local: Mutex::new(HashMap::new()) });
        // Zero settles on every increment; the flusher then only picks up the
        // counts of requests that arrived while another was settling.
        let period = if sync_every.is_zero() { COUNTER_SYNC } else { sync_every };
        spawn_flusher(Arc::downgrade(&counters), period)?;
        Ok(counters)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Local>> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts `by` for `key` in a window of `window`.
    async fn count(&self, key: &str, by: u64, window: Duration) -> Result<Hit, CounterError> {
        let now = Instant::now();
        let handed_over = {
            let mut map = self.map();
            match map.get_mut(key) {
                Some(l) if now < l.expires && (l.settling || now.duration_since(l.settled) < self.sync_every) => {
                    l.pending += by;
                    return Ok(l.hit(now));
                }
                // This request settles: it takes what is pending to Redis.
                Some(l) if now < l.expires => {
                    l.settling = true;
                    std::mem::take(&mut l.pending)
                }
                // A new window (or a key never seen): what was pending belonged to the old one.
                _ => {
                    map.remove(key);
                    0
                }
            }
        };
        let settled = self.link.increment_by(&format!("{}{key}", self.prefix), by + handed_over, window).await;
        {
            let mut map = self.map();
            match settled {
                Some((count, left)) => {
                    let now = Instant::now();
                    let l = map.entry(key.to_string()).or_insert_with(|| Local::new(now));
                    l.settle(count, left, now);
                    return Ok(l.hit(now));
                }
                // Redis is away: keep what was taken, count in process meanwhile.
                None => {
                    if let Some(l) = map.get_mut(key) {
                        l.pending += handed_over;
                        l.settling = false;
                    }
                }
            }
        }
        self.fallback.increment(key, by, window.as_secs().max(1)).await
    }

    /// Hands what this replica counted to Redis for every key that holds some
    /// and forgets the windows that ended. Runs every interval on the flusher
    /// thread, so counts of keys that went quiet still reach the other replicas.
    pub async fn flush(&self) {
        let now = Instant::now();
        let due: Vec<(String, u64, Duration)> = {
            let mut map = self.map();
            map.retain(|_, l| l.expires > now);
            map.iter_mut()
                .filter(|(_, l)| l.pending > 0 && !l.settling)
                .map(|(k, l)| {
                    l.settling = true;
                    (
                        k.clone(),
                        std::mem::take(&mut l.pending),
                        l.expires.saturating_duration_since(now).max(Duration::from_millis(1)),
                    )
                })
                .collect()
        };
        for (key, pending, left) in due {
            let settled = self.link.increment_by(&format!("{}{key}", self.prefix), pending, left).await;
            let mut map = self.map();
            let Some(l) = map.get_mut(&key) else { continue };
            match settled {
                Some((count, left)) => l.settle(count, left, Instant::now()),
                None => {
                    l.pending += pending;
                    l.settling = false;
                }
            }
        }
    }
}

/// Runs [`SharedCounters::flush`] every `period` for as long as the counters
/// live, on a thread with its own small runtime (the counters are made before
/// the server's runtime starts, and work with or without one).
fn spawn_flusher(counters: Weak<SharedCounters>, period: Duration) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("ntsb-counters".into()).spawn(move || {
        runtime.block_on(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(counters) = counters.upgrade() else { return };
                counters.flush().await;
            }
        })
    })?;
    Ok(())
}

impl CounterStore for SharedCounters {
    fn increment<'a>(&'a self, key: &'a str, by: u64, ttl_secs: u64) -> BoxFuture<'a, Result<Hit, CounterError>> {
        Box::pin(self.count(key, by, Duration::from_secs(ttl_secs.max(1))))
    }
}
