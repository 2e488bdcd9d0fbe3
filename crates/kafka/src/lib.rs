//! Kafka in and out.
//!
//! * [`Publisher`] (`ntsb serve --kafka-brokers`): follows the store's change
//!   log ([`ntsb_store::Store::changes`]) and publishes every change to a
//!   topic, keyed by `ev_id` (Kafka's default partitioner, so one event's
//!   changes stay in one partition, in order), the value the change with the
//!   event's detail document ([`message::change_value`]). One replica of many
//!   publishes at a time: the one holding the store's lease
//!   ([`ntsb_store::Streams::acquire_lease`]). The position of the last change
//!   the broker acknowledged is stored in the store only after the
//!   acknowledgement, and only while the lease is held, so a restart (of the
//!   server or of the broker) resumes after it: at least once, never skipping.
//! * [`Consumer`] (`ntsb ingest --from-kafka TOPIC`): reads each partition of a
//!   topic from the offset stored in the store, decodes each message as one
//!   event ([`message::decode`]) and writes the batch through the store's
//!   upsert, revision and reject rules like a file's, with the malformed
//!   messages recorded as rejects (file `kafka:TOPIC/PARTITION`, line = the
//!   offset) and the next offset, all in one transaction
//!   ([`ntsb_store::Store::write_stream_batch`]). Offsets are therefore
//!   committed with the records and never before them: after a crash or a
//!   broker restart nothing is lost and nothing is applied twice. rskafka has
//!   no consumer groups; the store is the group.
//!
//! The client is `rskafka` (pure Rust). This crate knows no HTTP and no SQL.
//!
//! ```no_run
//! # async fn example(store: std::sync::Arc<dyn ntsb_store::Backend>) -> ntsb_kafka::Result<()> {
//! let config = ntsb_kafka::KafkaConfig::new(vec!["127.0.0.1:9092".into()])?;
//! let consumer = ntsb_kafka::Consumer::new(store, None, config, Default::default());
//! let report = consumer.run(&ntsb_kafka::ConsumeOptions::until_idle("ntsb.events")).await?;
//! println!("{} messages", report.messages);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod consumer;
mod error;
pub mod message;
mod metrics;
pub mod partition;
mod publisher;

use std::time::Duration;

pub use consumer::{ConsumeOptions, ConsumeReport, Consumer};
pub use error::{Error, Result};
pub use metrics::KafkaMetrics;
pub use publisher::{PublishOptions, Publisher, PublisherHandle};

/// How to reach the brokers.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `HOST:PORT`.
    pub brokers: Vec<String>,
    /// The client id brokers log.
    pub client_id: String,
    /// How long a request is retried (with backoff) before it fails: long
    /// enough to ride out a broker restart.
    pub retry_for: Duration,
}

impl KafkaConfig {
    /// A configuration for `brokers` (each `HOST:PORT`; at least one).
    pub fn new(brokers: Vec<String>) -> Result<KafkaConfig> {
        let brokers: Vec<String> =
            brokers.into_iter().map(|b| b.trim().to_string()).filter(|b| !b.is_empty()).collect();
        if brokers.is_empty() {
            return Err(Error::Config("no Kafka brokers given (HOST:PORT, comma-separated)".into()));
        }
        for b in &brokers {
            let port = b.rsplit_once(':').and_then(|(host, port)| (!host.is_empty()).then_some(port));
            if port.and_then(|p| p.parse::<u16>().ok()).is_none() {
                return Err(Error::Config(format!("Kafka broker {b:?} is not HOST:PORT")));
            }
        }
        Ok(KafkaConfig { brokers, client_id: "ntsb".into(), retry_for: Duration::from_secs(60) })
    }

    /// Connects to the brokers.
    pub(crate) async fn connect(&self) -> Result<rskafka::client::Client> {
        rskafka::client::ClientBuilder::new(self.brokers.clone())
            .client_id(self.client_id.as_str())
            .backoff_config(rskafka::BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
                deadline: Some(self.retry_for),
            })
            .build()
            .await
            .map_err(Error::broker(format!("connecting to {}", self.brokers.join(","))))
    }
}

/// Runs a blocking store call off the reactor.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Task(e.to_string()))?
}

/// Milliseconds since the Unix epoch (lease times).
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
