//! `ntsb serve --kafka-brokers`: the store's change log onto a topic.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ntsb_store::{Backend, Change, ChangeKind, Cursor};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::record::Record;
use tokio::sync::watch;

use crate::message::change_value;
use crate::partition::partition_of;
use crate::{Error, KafkaConfig, KafkaMetrics, Result, blocking, now_ms};

/// What to publish and how.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The topic (created with [`PublishOptions::partitions`] when missing).
    pub topic: String,
    /// Partitions of a topic this publisher creates.
    pub partitions: i32,
    /// How often the change log is looked at when nothing is pending.
    pub poll: Duration,
    /// Changes read and published per round.
    pub batch: usize,
    /// How long the lease lasts unless renewed (another replica takes over
    /// this long after this one stops without releasing it).
    pub lease: Duration,
    /// This process's name in the lease (unique per process).
    pub holder: String,
}

impl PublishOptions {
    /// Defaults for `topic`: 3 partitions, 200 ms poll, 1,000 changes a
    /// round, a 15 s lease, a holder named after the host, process and time.
    pub fn new(topic: &str) -> PublishOptions {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "ntsb".into());
        PublishOptions {
            topic: topic.to_string(),
            partitions: 3,
            poll: Duration::from_millis(200),
            batch: 1000,
            lease: Duration::from_secs(15),
            holder: format!("{host}:{}:{}", std::process::id(), now_ms()),
        }
    }
}

/// Publishes the change log (see the crate documentation).
pub struct Publisher {
    store: Arc<dyn Backend>,
    config: KafkaConfig,
    options: PublishOptions,
    metrics: Arc<KafkaMetrics>,
}

/// A running [`Publisher`]; [`PublisherHandle::stop`] ends it and gives its lease up.
pub struct PublisherHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl PublisherHandle {
    /// Stops after the round in progress and releases the lease.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The stream name under which the store keeps the last published `seq`.
pub(crate) fn stream_name(topic: &str) -> String {
    format!("kafka-out:{topic}")
}

/// The lease one publisher of `topic` holds.
fn lease_name(topic: &str) -> String {
    format!("kafka-publisher:{topic}")
}

struct Connected {
    partitions: Vec<PartitionClient>,
}

impl Publisher {
    /// A publisher of `store`'s change log.
    pub fn new(
        store: Arc<dyn Backend>,
        config: KafkaConfig,
        options: PublishOptions,
        metrics: Arc<KafkaMetrics>,
    ) -> Result<Publisher> {
        if options.topic.trim().is_empty() {
            return Err(Error::Config("the Kafka topic name is empty".into()));
        }
        if options.partitions < 1 {
            return Err(Error::Config("a Kafka topic needs at least one partition".into()));
        }
        Ok(Publisher { store, config, options, metrics })
    }

    /// Runs on the current tokio runtime until stopped.
    pub fn spawn(self) -> PublisherHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        PublisherHandle { stop, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let lease = lease_name(&self.options.topic);
        let holder = self.options.holder.clone();
        let ttl = i64::try_from(self.options.lease.as_millis()).unwrap_or(i64::MAX);
        let mut connected: Option<Connected> = None;
        let mut renewed: Option<Instant> = None;
        let mut failures = 0u32;
        while !*stopped.borrow() {
            let pause = match self.round(&lease, &holder, ttl, &mut renewed, &mut connected).await {
                Ok(true) => {
                    failures = 0;
                    continue;
                }
                Ok(false) => self.options.poll,
                Err(e) => {
                    self.metrics.publish_error();
                    failures = failures.saturating_add(1);
                    connected = None;
                    tracing::warn!(cause = %e, topic = %self.options.topic, "kafka publish failed; retrying");
                    // 0.2 s, 0.4 s, … up to 10 s between attempts.
                    (self.options.poll * 2u32.saturating_pow(failures.min(6))).min(Duration::from_secs(10))
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stopped.changed() => {}
            }
        }
        self.metrics.leader(false);
        let store = self.store.clone();
        let (lease, holder) = (lease.clone(), holder.clone());
        if let Err(e) = blocking(move || Ok(store.release_lease(&lease, &holder)?)).await {
            tracing::warn!(cause = %e, "releasing the kafka publisher lease");
        }
    }

    /// One round: hold the lease, publish what is pending. `Ok(true)` when it
    /// published a full batch (more may be waiting).
    async fn round(
        &self,
        lease: &str,
        holder: &str,
        ttl: i64,
        renewed: &mut Option<Instant>,
        connected: &mut Option<Connected>,
    ) -> Result<bool> {
        // Renew at a third of the lease's length: a lease never lapses while we run.
        if renewed.is_none_or(|at| at.elapsed() >= self.options.lease / 3) {
            let store = self.store.clone();
            let (l, h) = (lease.to_string(), holder.to_string());
            let held = blocking(move || Ok(store.acquire_lease(&l, &h, ttl, now_ms())?)).await?;
            self.metrics.leader(held);
            if !held {
                *renewed = None;
                *connected = None;
                return Ok(false);
            }
            *renewed = Some(Instant::now());
        }
        let store = self.store.clone();
        let stream = stream_name(&self.options.topic);
        let batch = self.options.batch;
        let pending = blocking(move || {
            let after = store.cursors(&stream)?.first().map_or(0, |c| c.position);
            let changes = store.changes(u64::try_from(after).unwrap_or(0), batch)?;
            let mut out = Vec::with_capacity(changes.len());
            for change in changes {
                let doc = match (&change.ev_id, change.kind) {
                    (Some(ev_id), ChangeKind::Created | ChangeKind::Updated) => store.event_detail_json(ev_id)?,
                    _ => None,
                };
                let value = change_value(&change, doc.as_deref());
                out.push((change, value));
            }
            Ok(out)
        })
        .await?;
        let Some(last) = pending.last().map(|(c, _)| c.seq) else { return Ok(false) };
        let full = pending.len() >= batch;
        if connected.is_none() {
            *connected = Some(self.connect().await?);
        }
        let Some(conn) = connected.as_ref() else { return Ok(false) };
        let n = conn.partitions.len() as i32;
        let mut by_partition: Vec<Vec<Record>> = (0..n).map(|_| Vec::new()).collect();
        let count = pending.len() as u64;
        for (change, value) in pending {
            let key = key_of(&change);
            let p = partition_of(&key, n);
            by_partition[p as usize].push(Record {
                key: Some(key),
                value: Some(value),
                headers: Default::default(),
                timestamp: chrono::Utc::now(),
            });
        }
        for (client, records) in conn.partitions.iter().zip(by_partition) {
            if !records.is_empty() {
                client.produce(records, Compression::NoCompression).await.map_err(Error::broker(format!(
                    "publishing to {}/{}",
                    self.options.topic,
                    client.partition()
                )))?;
            }
        }
        let store = self.store.clone();
        let cursor = Cursor {
            stream: stream_name(&self.options.topic),
            part: 0,
            position: i64::try_from(last).unwrap_or(i64::MAX),
        };
        let (l, h) = (lease.to_string(), holder.to_string());
        let saved = blocking(move || Ok(store.save_cursor(&cursor, Some((&l, &h)), now_ms())?)).await?;
        if !saved {
            // Another replica took the lease meanwhile: it resumes from the
            // position stored before; what we sent is published twice at worst.
            *renewed = None;
            self.metrics.leader(false);
            return Ok(false);
        }
        self.metrics.published(count, last);
        Ok(full)
    }

    async fn connect(&self) -> Result<Connected> {
        let client = self.config.connect().await?;
        let topic = self.options.topic.as_str();
        let topics = client.list_topics().await.map_err(Error::broker("listing topics"))?;
        let ids: Vec<i32> = match topics.into_iter().find(|t| t.name == topic) {
            Some(t) => t.partitions.into_iter().collect(),
            None => {
                let controller = client.controller_client().map_err(Error::broker("reaching the controller"))?;
                controller
                    .create_topic(topic, self.options.partitions, 1, 5_000)
                    .await
                    .map_err(Error::broker(format!("creating the topic {topic}")))?;
                tracing::info!(topic, partitions = self.options.partitions, "kafka topic created");
                (0..self.options.partitions).collect()
            }
        };
        let mut partitions = Vec::with_capacity(ids.len());
        for id in ids {
            partitions.push(
                client
                    .partition_client(topic, id, UnknownTopicHandling::Retry)
                    .await
                    .map_err(Error::broker(format!("opening {topic}/{id}")))?,
            );
        }
        if partitions.is_empty() {
            return Err(Error::Config(format!("the topic {topic} has no partitions")));
        }
        Ok(Connected { partitions })
    }
}

/// The message key: the event's `ev_id` (its NTSB number for an event known
/// only by that).
fn key_of(change: &Change) -> Vec<u8> {
    change.ev_id.as_deref().or(change.ntsb_no.as_deref()).unwrap_or("").as_bytes().to_vec()
}
