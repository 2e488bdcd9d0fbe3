//! The optional link to Redis (`NTSB_REDIS_URL`), shared by every API replica:
//! a second tier of the response cache, and counters that expire (what a rate
//! limiter shared by all replicas needs).
//!
//! Redis is an accelerator, never a dependency: when it cannot be reached the
//! API keeps serving (uncached, with in-process counters), logs the outage once
//! and its end once, and shows it in `/ready` and `/metrics`. A failed command
//! opens a circuit for [`RETRY_AFTER`]: no request waits on a dead Redis more
//! than once per interval, then one request tries to reconnect.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

/// Longest wait for a connection or a reply; Redis answers in well under a
/// millisecond when healthy, so anything slower is treated as an outage.
pub const TIMEOUT: Duration = Duration::from_millis(250);

/// How long Redis is left alone after a failure before one request tries again.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Counters of the link, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedisStats {
    /// Whether the last command (or connection attempt) succeeded.
    pub up: bool,
    /// Commands or connection attempts that failed.
    pub errors: u64,
    /// Times Redis went from reachable to unreachable.
    pub outages: u64,
}

/// A connection to Redis with a circuit breaker (see the module documentation).
pub struct RedisLink {
    client: redis::Client,
    /// The URL without its password, for logs.
    label: String,
    /// The multiplexed connection (cheap to clone), when one is open.
    conn: Mutex<Option<MultiplexedConnection>>,
    /// Set while one task connects, so others do not pile up behind it.
    connecting: AtomicBool,
    up: AtomicBool,
    /// Milliseconds since `started` before which no connection is attempted.
    retry_at: AtomicU64,
    started: Instant,
    errors: AtomicU64,
    outages: AtomicU64,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink").field("url", &self.label).field("up", &self.up).finish_non_exhaustive()
    }
}

impl RedisLink {
    /// A link to `url` (`redis://[:PASSWORD@]HOST[:PORT][/DB]` or `rediss://…`).
    /// Only parses: the first command connects, so a server can start while
    /// Redis is down. The error never contains the password.
    pub fn new(url: &str) -> Result<RedisLink, String> {
        let label = redact(url);
        let client = redis::Client::open(url).map_err(|e| format!("{label}: not a Redis URL ({})", e.category()))?;
        Ok(RedisLink {
            client,
            label,
            conn: Mutex::new(None),
            connecting: AtomicBool::new(false),
            // Assumed up until the first failure, so the first outage is logged.
            up: AtomicBool::new(true),
            retry_at: AtomicU64::new(0),
            started: Instant::now(),
            errors: AtomicU64::new(0),
            outages: AtomicU64::new(0),
        })
    }

    /// The URL without its password.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The bytes under `key`, or `None` when absent or Redis is unavailable.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut conn = self.connection().await?;
        let reply = tokio::time::timeout(TIMEOUT, conn.get::<_, Option<Vec<u8>>>(key)).await;
        self.settle(reply)?
    }

    /// Stores `value` under `key` for `ttl`. Best effort: a failure only counts.
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        let Some(mut conn) = self.connection().await else {
            return;
        };
        let seconds = ttl.as_secs().max(1);
        let reply = tokio::time::timeout(TIMEOUT, conn.set_ex::<_, _, ()>(key, value, seconds)).await;
        self.settle(reply);
    }

    /// Adds one to the counter `key`, which starts at 0 and expires `window`
    /// after its first increment (a fixed window); returns the count after the
    /// increment and the time left in the window. One atomic round trip, so all
    /// replicas share one count. `None` when Redis is unavailable: the caller
    /// falls back to its own counters.
    pub async fn increment(&self, key: &str, window: Duration) -> Option<(u64, Duration)> {
        self.increment_by(key, 1, window).await
    }

    /// [`RedisLink::increment`] by `by`.
    pub async fn increment_by(&self, key: &str, by: u64, window: Duration) -> Option<(u64, Duration)> {
        let mut conn = self.connection().await?;
        let millis = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("SET").arg(key).arg(0).arg("PX").arg(millis).arg("NX").ignore().incr(key, by).pttl(key);
        let reply = tokio::time::timeout(TIMEOUT, pipe.query_async::<(u64, i64)>(&mut conn)).await;
        let (count, left) = self.settle(reply)?;
        Some((count, Duration::from_millis(u64::try_from(left).unwrap_or(millis))))
    }

    /// Asks Redis whether it is there (for `/ready`), bypassing the circuit's
    /// pause so an operator sees the truth now.
    pub async fn ping(&self) -> bool {
        self.retry_at.store(0, Ordering::Release);
        let Some(mut conn) = self.connection().await else {
            return false;
        };
        let reply = tokio::time::timeout(TIMEOUT, redis::cmd("PING").query_async::<String>(&mut conn)).await;
        self.settle(reply).is_some()
    }

    /// Counters now.
    pub fn stats(&self) -> RedisStats {
        RedisStats {
            up: self.up.load(Ordering::Acquire),
            errors: self.errors.load(Ordering::Relaxed),
            outages: self.outages.load(Ordering::Relaxed),
        }
    }

    /// The open connection, or a new one when the circuit allows an attempt.
    async fn connection(&self) -> Option<MultiplexedConnection> {
        if let Some(conn) = self.conn.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Some(conn);
        }
        if self.now_ms() < self.retry_at.load(Ordering::Acquire) {
            return None;
        }
        if self.connecting.swap(true, Ordering::AcqRel) {
            return None; // another request is connecting; do not wait for it
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let attempt =
            tokio::time::timeout(TIMEOUT * 2, self.client.get_multiplexed_async_connection_with_config(&config)).await;
        self.connecting.store(false, Ordering::Release);
        match attempt {
            Ok(Ok(conn)) => {
                *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(conn.clone());
                self.mark_up();
                Some(conn)
            }
            Ok(Err(e)) => {
                self.mark_down(&e.to_string());
                None
            }
            Err(_) => {
                self.mark_down("connection timed out");
                None
            }
        }
    }

    /// The reply's value, recording success or failure.
    fn settle<T>(&self, reply: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>) -> Option<T> {
        match reply {
            Ok(Ok(value)) => {
                self.mark_up();
                Some(value)
            }
            Ok(Err(e)) => {
                self.mark_down(&e.to_string());
                None
            }
            Err(_) => {
                self.mark_down("no reply in time");
                None
            }
        }
    }

    fn mark_up(&self) {
        if !self.up.swap(true, Ordering::AcqRel) {
            tracing::warn!(redis = %self.label, "redis is reachable again; the shared cache and counters are back");
        }
    }

    fn mark_down(&self, reason: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.retry_at.store(self.now_ms() + RETRY_AFTER.as_millis() as u64, Ordering::Release);
        if self.up.swap(false, Ordering::AcqRel) {
            self.outages.fetch_add(1, Ordering::Relaxed);
            tracing::error!(redis = %self.label, reason = %redact(reason),
                "redis is unreachable; serving without the shared cache, counting in process");
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// `url` with any password replaced by `***` (the same rule as for database URLs).
pub use ntsb_store::postgres::redact;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_without_showing_passwords() {
        assert_eq!(redact("redis://:s3cret@cache:6379/0"), "redis://:***@cache:6379/0");
        assert_eq!(redact("redis://user:s3cret@cache"), "redis://user:***@cache");
        assert_eq!(redact("redis://cache:6379"), "redis://cache:6379");
        let err = RedisLink::new("http://:s3cret@cache").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(RedisLink::new("redis://127.0.0.1:6379/0").is_ok());
    }

    #[tokio::test]
    async fn an_unreachable_redis_answers_none_quickly_and_is_counted_once() {
        // A port nothing listens on (bound and released by us).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let link = RedisLink::new(&format!("redis://127.0.0.1:{port}")).unwrap();
        assert_eq!(link.get("k").await, None);
        // The circuit is open: the next calls do not even try.
        assert_eq!(link.increment("k", Duration::from_secs(1)).await, None);
        link.set("k", b"v", Duration::from_secs(1)).await;
        let stats = link.stats();
        assert!(!stats.up);
        assert_eq!((stats.errors, stats.outages), (1, 1));
        assert!(!link.ping().await);
        assert_eq!(link.stats().outages, 1, "one outage however many failures");
    }
}
