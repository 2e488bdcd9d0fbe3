//! Positions in outside streams and leases on jobs (migration 0015), for
//! processes that follow something other than files: the Kafka consumer of
//! `ntsb ingest --from-kafka` (its next offset per topic partition) and the
//! Kafka publisher of `ntsb serve` (the last change `seq` the broker
//! acknowledged, and the lease that lets one replica of many publish).
//!
//! A consumer's position is written in the same transaction as the records it
//! stands for ([`crate::Store::write_stream_batch`]), so after a crash or a
//! broker restart it resumes exactly after what the store committed: nothing
//! lost, nothing applied twice.

use crate::Result;

/// The position of one partition of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The stream (e.g. `kafka-in:TOPIC`, `kafka-out:TOPIC`).
    pub stream: String,
    /// The partition (0 for a stream without partitions).
    pub part: i64,
    /// Where to resume: a consumer's next offset, a publisher's last published `seq`.
    pub position: i64,
}

/// Stream positions and job leases, the same on every backend.
pub trait Streams: Send + Sync {
    /// Every stored position of `stream`, by partition.
    fn cursors(&self, stream: &str) -> Result<Vec<Cursor>>;

    /// Stores `cursor` (replacing the partition's position), provided the
    /// caller still holds `lease` (`(name, holder)`) when one is given; returns
    /// whether it was stored. The check and the write are one transaction, so a
    /// process whose lease was taken over cannot move the position back.
    fn save_cursor(&self, cursor: &Cursor, lease: Option<(&str, &str)>, now_ms: i64) -> Result<bool>;

    /// Takes or renews the lease `name` for `holder` until `now_ms + ttl_ms`;
    /// returns whether `holder` holds it now. A lease held by another holder is
    /// taken only once it has expired (`expires_at < now_ms`), so at most one
    /// holder at a time, given clocks that agree within the lease's length.
    fn acquire_lease(&self, name: &str, holder: &str, ttl_ms: i64, now_ms: i64) -> Result<bool>;

    /// Gives the lease up if `holder` holds it (a clean shutdown), so another
    /// process need not wait for it to expire.
    fn release_lease(&self, name: &str, holder: &str) -> Result<()>;
}
