//! [`Live`]: what the stream routes share — the change feed engine
//! ([`ntsb_feed::Feed`]), the heartbeat interval, the stream tickets and the
//! counters `/metrics` reports for the feed's connections.
//!
//! A browser cannot set `Authorization` or `X-API-Key` on a WebSocket (nor on
//! an `EventSource`), so a signed-in client first asks for a ticket
//! (`POST /api/v1/stream/tickets`) and opens the stream with `?ticket=`. A
//! ticket is single-use and short-lived: it stands for the caller only for the
//! one connection it opens, and one that leaks (a proxy log of the URL) is
//! worth nothing a few seconds later. Only a hash of it is kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ntsb_auth::Principal;
use ntsb_feed::{Closed, Feed};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::metrics::Family;

/// Default heartbeat interval of the streams.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// Default lifetime of a stream ticket.
pub const DEFAULT_TICKET_TTL: Duration = Duration::from_secs(30);

/// Most tickets outstanding at once (unused, unexpired); bounds the memory a
/// caller minting tickets in a loop can take.
const MAX_TICKETS: usize = 10_000;

/// How a client is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Server-Sent Events (`GET /api/v1/stream/events`).
    Sse,
    /// WebSocket (`GET /api/v1/stream`).
    WebSocket,
}

impl Transport {
    const ALL: [Transport; 2] = [Transport::Sse, Transport::WebSocket];

    fn as_str(self) -> &'static str {
        match self {
            Transport::Sse => "sse",
            Transport::WebSocket => "websocket",
        }
    }

    fn slot(self) -> usize {
        match self {
            Transport::Sse => 0,
            Transport::WebSocket => 1,
        }
    }
}

/// Why the server ended a stream (the `reason` label of
/// `ntsb_feed_subscribers_dropped_total`).
const DROP_REASONS: [&str; 3] = ["slow_consumer", "shutdown", "failed"];

fn drop_slot(closed: &Closed) -> usize {
    match closed {
        Closed::SlowConsumer { .. } => 0,
        Closed::Stopped => 1,
        Closed::Failed(_) => 2,
    }
}

/// Settings of the stream routes.
#[derive(Debug, Clone, Copy)]
pub struct LiveOptions {
    /// A heartbeat (an SSE comment, a WebSocket ping) after this long.
    pub heartbeat: Duration,
    /// How long a stream ticket stays valid.
    pub ticket_ttl: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions { heartbeat: DEFAULT_HEARTBEAT, ticket_ttl: DEFAULT_TICKET_TTL }
    }
}

/// The live feed as the server serves it.
pub struct Live {
    /// The feed engine (started by whoever built it).
    pub feed: Feed,
    pub(crate) options: LiveOptions,
    tickets: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
    connections: [AtomicI64; 2],
    sent: [AtomicU64; 2],
    dropped: [AtomicU64; 3],
    next_id: AtomicU64,
    /// Each open connection's lag at its last delivery (changes the feed had
    /// published beyond the one delivered).
    lags: Mutex<HashMap<u64, Arc<AtomicU64>>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("feed", &self.feed).field("options", &self.options).finish_non_exhaustive()
    }
}

impl Live {
    /// The stream routes over `feed` (which must be started).
    pub fn new(feed: Feed, options: LiveOptions) -> Live {
        Live {
            feed,
            options,
            tickets: Mutex::new(HashMap::new()),
            connections: Default::default(),
            sent: Default::default(),
            dropped: Default::default(),
            next_id: AtomicU64::new(0),
            lags: Mutex::new(HashMap::new()),
        }
    }

    /// Mints a ticket standing for `who` for one stream connection.
    pub(crate) fn issue_ticket(&self, who: &Principal) -> Result<String, ApiError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("no randomness for a ticket: {e}")))?;
        let ticket = hex::encode(bytes);
        let now = Instant::now();
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        tickets.retain(|_, (_, expires)| *expires > now);
        if tickets.len() >= MAX_TICKETS {
            return Err(ApiError::Unavailable("too many stream tickets outstanding; retry shortly".into()));
        }
        tickets.insert(digest(&ticket), (who.clone(), now + self.options.ticket_ttl));
        Ok(ticket)
    }

    /// The caller a ticket stands for, once: the ticket is spent whether or
    /// not it was still valid.
    pub(crate) fn redeem_ticket(&self, ticket: &str) -> Option<Principal> {
        let found = self.tickets.lock().unwrap_or_else(|p| p.into_inner()).remove(&digest(ticket));
        found.filter(|(_, expires)| *expires > Instant::now()).map(|(p, _)| p)
    }

    /// Counts a connection of `transport` open until the guard drops.
    pub(crate) fn connect(self: &Arc<Self>, transport: Transport) -> Connection {
        self.connections[transport.slot()].fetch_add(1, Ordering::Relaxed);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let lag = Arc::new(AtomicU64::new(0));
        self.lags.lock().unwrap_or_else(|p| p.into_inner()).insert(id, lag.clone());
        Connection { live: self.clone(), transport, id, lag }
    }

    /// The feed's metric families (declared with zero samples while nothing
    /// happened, so rules and dashboards always find them).
    pub(crate) fn families(live: Option<&Live>) -> Vec<Family> {
        let mut connections = Family::gauge("ntsb_feed_connections", "Open live-feed connections, by transport.");
        let mut sent =
            Family::counter("ntsb_feed_messages_sent_total", "Changes sent to live-feed clients, by transport.");
        for t in Transport::ALL {
            let (open, n) = live.map_or((0, 0), |l| {
                (l.connections[t.slot()].load(Ordering::Relaxed), l.sent[t.slot()].load(Ordering::Relaxed))
            });
            connections = connections.sample(&[("transport", t.as_str())], open as f64);
            sent = sent.sample(&[("transport", t.as_str())], n as f64);
        }
        let mut dropped = Family::counter(
            "ntsb_feed_subscribers_dropped_total",
            "Live-feed connections the server ended, by reason (slow_consumer, shutdown, failed).",
        );
        for (i, reason) in DROP_REASONS.iter().enumerate() {
            let n = live.map_or(0, |l| l.dropped[i].load(Ordering::Relaxed));
            dropped = dropped.sample(&[("reason", *reason)], n as f64);
        }
        let stats = live.map(|l| l.feed.stats());
        let load = |f: fn(&ntsb_feed::FeedStats) -> u64| stats.as_deref().map_or(0.0, |s| f(s) as f64);
        let lag = live.map_or(0, |l| {
            l.lags
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .map(|v| v.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0)
        });
        vec![
            connections,
            sent,
            dropped,
            Family::counter(
                "ntsb_feed_connections_refused_total",
                "Live-feed connections refused by the per-account or the process-wide limit.",
            )
            .sample(&[], load(|s| s.refused.load(Ordering::Relaxed))),
            Family::gauge(
                "ntsb_feed_consumer_lag",
                "Most changes any open live-feed connection was behind the feed at its last delivery.",
            )
            .sample(&[], lag as f64),
            Family::gauge(
                "ntsb_feed_position",
                "Position in the store's change log: what the feed published (of=feed) and the latest it saw (of=store).",
            )
            .sample(&[("of", "feed")], live.map_or(0.0, |l| l.feed.position() as f64))
            .sample(&[("of", "store")], load(|s| s.head.load(Ordering::Relaxed))),
            Family::counter("ntsb_feed_errors_total", "Store errors the live-feed engine met (it retries).")
                .sample(&[], load(|s| s.errors.load(Ordering::Relaxed))),
        ]
    }
}

fn digest(ticket: &str) -> [u8; 32] {
    Sha256::digest(ticket.as_bytes()).into()
}

/// One open stream connection; counted until dropped.
pub(crate) struct Connection {
    live: Arc<Live>,
    transport: Transport,
    id: u64,
    lag: Arc<AtomicU64>,
}

impl Connection {
    /// The change at `seq` was handed to the client.
    pub(crate) fn sent(&self, seq: u64) {
        self.live.sent[self.transport.slot()].fetch_add(1, Ordering::Relaxed);
        self.lag.store(self.live.feed.position().saturating_sub(seq), Ordering::Relaxed);
    }

    /// The server ends the stream for `why`.
    pub(crate) fn dropped(&self, why: &Closed) {
        self.live.dropped[drop_slot(why)].fetch_add(1, Ordering::Relaxed);
        if let Closed::SlowConsumer { behind, position } = why {
            tracing::info!(transport = self.transport.as_str(), behind, position, "live feed: slow consumer dropped");
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.live.connections[self.transport.slot()].fetch_sub(1, Ordering::Relaxed);
        self.live.lags.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}
