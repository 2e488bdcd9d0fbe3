//! Counters of the Kafka publisher and consumer, rendered in the Prometheus
//! text format by [`KafkaMetrics::render`] (the server appends it to
//! `/metrics`; `ntsb ingest --from-kafka` writes it to its textfile).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// What the publisher and the consumer of one process did.
#[derive(Debug, Default)]
pub struct KafkaMetrics {
    published: AtomicU64,
    publish_errors: AtomicU64,
    published_seq: AtomicI64,
    leader: AtomicI64,
    consumed: AtomicU64,
    rejected: AtomicU64,
    /// Records on the broker not yet committed to the store, by (topic, partition).
    lag: Mutex<BTreeMap<(String, i32), i64>>,
}

impl KafkaMetrics {
    pub(crate) fn published(&self, n: u64, last_seq: u64) {
        self.published.fetch_add(n, Ordering::Relaxed);
        self.published_seq.store(i64::try_from(last_seq).unwrap_or(i64::MAX), Ordering::Relaxed);
    }
    pub(crate) fn publish_error(&self) {
        self.publish_errors.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn leader(&self, holds: bool) {
        self.leader.store(i64::from(holds), Ordering::Relaxed);
    }
    pub(crate) fn consumed(&self, n: u64, rejected: u64) {
        self.consumed.fetch_add(n, Ordering::Relaxed);
        self.rejected.fetch_add(rejected, Ordering::Relaxed);
    }
    pub(crate) fn lag(&self, topic: &str, partition: i32, lag: i64) {
        self.lag.lock().unwrap_or_else(|p| p.into_inner()).insert((topic.to_string(), partition), lag.max(0));
    }

    /// Messages published so far.
    pub fn published_total(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
    /// Publish attempts that failed (each is retried).
    pub fn publish_errors_total(&self) -> u64 {
        self.publish_errors.load(Ordering::Relaxed)
    }
    /// Messages consumed and committed to the store (rejects included).
    pub fn consumed_total(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }
    /// Messages refused as malformed.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
    /// Consumer lag summed over partitions.
    pub fn lag_total(&self) -> i64 {
        self.lag.lock().unwrap_or_else(|p| p.into_inner()).values().sum()
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        family(
            "ntsb_kafka_published_total",
            "counter",
            "Changes of the store's change log published to Kafka.",
            self.published_total().to_string(),
        );
        family(
            "ntsb_kafka_publish_errors_total",
            "counter",
            "Kafka publish attempts that failed (the batch is retried; nothing is skipped).",
            self.publish_errors_total().to_string(),
        );
        family(
            "ntsb_kafka_published_position",
            "gauge",
            "Change-log position (seq) of the last change the broker acknowledged.",
            self.published_seq.load(Ordering::Relaxed).to_string(),
        );
        family(
            "ntsb_kafka_publisher_leader",
            "gauge",
            "1 when this process holds the publisher lease (one replica publishes at a time).",
            self.leader.load(Ordering::Relaxed).to_string(),
        );
        family(
            "ntsb_kafka_consumed_total",
            "counter",
            "Kafka messages consumed and committed to the store (malformed ones included).",
            self.consumed_total().to_string(),
        );
        family(
            "ntsb_kafka_consume_rejects_total",
            "counter",
            "Kafka messages refused as malformed (recorded in the load's rejects).",
            self.rejected_total().to_string(),
        );
        let lag = self.lag.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let _ = writeln!(
            out,
            "# HELP ntsb_kafka_consumer_lag Messages on the broker not yet committed to the store, by topic and partition.\n# TYPE ntsb_kafka_consumer_lag gauge"
        );
        for ((topic, partition), n) in lag {
            let topic = topic.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(out, "ntsb_kafka_consumer_lag{{topic=\"{topic}\",partition=\"{partition}\"}} {n}");
        }
        out
    }
}
