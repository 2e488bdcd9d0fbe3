//! `ntsb ingest --from-kafka`: event documents from a topic into the store.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use ntsb_model::SourceKind;
use ntsb_model::records::{Reject, SourcedRecord};
use ntsb_search::SearchIndex;
use ntsb_store::{Backend, Cursor, LoadSource, LoadSummary, TableCounts};
use rskafka::client::partition::{OffsetAt, PartitionClient, UnknownTopicHandling};
use sha2::Digest;

use crate::message::{Decoded, decode};
use crate::{Error, KafkaConfig, KafkaMetrics, Result, blocking};

/// What to consume and how.
#[derive(Debug, Clone)]
pub struct ConsumeOptions {
    /// The topic.
    pub topic: String,
    /// Stop once every partition has been read up to its high watermark
    /// (`--until-idle`); otherwise keep following the topic.
    pub until_idle: bool,
    /// Bytes asked of a partition per fetch (one store transaction each).
    pub fetch_bytes: i32,
    /// How long a fetch waits on the broker for new messages.
    pub max_wait: Duration,
}

impl ConsumeOptions {
    /// Drain `topic` and stop.
    pub fn until_idle(topic: &str) -> ConsumeOptions {
        ConsumeOptions {
            topic: topic.to_string(),
            until_idle: true,
            fetch_bytes: 4 << 20,
            max_wait: Duration::from_millis(500),
        }
    }
}

/// What a run consumed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ConsumeReport {
    /// Messages read and committed (malformed ones included).
    pub messages: u64,
    /// Messages refused as malformed (recorded as rejects of their load).
    pub rejected: u64,
    /// Events written (a message superseded by a later one for the same event
    /// in the same batch is read but not written).
    pub events: u64,
    /// Store transactions (one ledger entry each).
    pub batches: u64,
    /// Row counts by table, as a file load reports them.
    pub tables: BTreeMap<String, TableCounts>,
    /// Documents added to or removed from the full-text index.
    pub indexed: u64,
}

/// Consumes a topic into a store (see the crate documentation).
pub struct Consumer {
    store: Arc<dyn Backend>,
    index: Option<Arc<SearchIndex>>,
    config: KafkaConfig,
    metrics: Arc<KafkaMetrics>,
}

/// The stream name under which the store keeps this topic's offsets.
pub(crate) fn stream_name(topic: &str) -> String {
    format!("kafka-in:{topic}")
}

struct Partition {
    id: i32,
    client: PartitionClient,
    next: i64,
}

impl Consumer {
    /// A consumer writing into `store` (and keeping `index` in step, when given).
    pub fn new(
        store: Arc<dyn Backend>,
        index: Option<Arc<SearchIndex>>,
        config: KafkaConfig,
        metrics: Arc<KafkaMetrics>,
    ) -> Consumer {
        Consumer { store, index, config, metrics }
    }

    /// Consumes until the topic is drained (`until_idle`) or forever.
    pub async fn run(&self, options: &ConsumeOptions) -> Result<ConsumeReport> {
        let topic = options.topic.as_str();
        if topic.trim().is_empty() {
            return Err(Error::Config("the Kafka topic name is empty".into()));
        }
        let client = self.config.connect().await?;
        let topics = client.list_topics().await.map_err(Error::broker("listing topics"))?;
        let Some(found) = topics.into_iter().find(|t| t.name == topic) else {
            return Err(Error::UnknownTopic { topic: topic.to_string(), brokers: self.config.brokers.join(",") });
        };
        let store = self.store.clone();
        let stream = stream_name(topic);
        let stored: HashMap<i64, i64> =
            blocking(move || Ok(store.cursors(&stream)?)).await?.into_iter().map(|c| (c.part, c.position)).collect();
        let mut partitions = Vec::new();
        for id in found.partitions {
            let client = client
                .partition_client(topic, id, UnknownTopicHandling::Retry)
                .await
                .map_err(Error::broker(format!("opening {topic}/{id}")))?;
            let next = match stored.get(&i64::from(id)) {
                Some(next) => *next,
                None => client
                    .get_offset(OffsetAt::Earliest)
                    .await
                    .map_err(Error::broker(format!("reading the first offset of {topic}/{id}")))?,
            };
            partitions.push(Partition { id, client, next });
        }
        let mut report = ConsumeReport::default();
        loop {
            let mut drained = true;
            for p in &mut partitions {
                let max_wait = i32::try_from(options.max_wait.as_millis()).unwrap_or(i32::MAX);
                let (records, high) = p
                    .client
                    .fetch_records(p.next, 1..options.fetch_bytes.max(1024), max_wait)
                    .await
                    .map_err(Error::broker(format!("fetching {topic}/{} from offset {}", p.id, p.next)))?;
                let records: Vec<_> = records.into_iter().filter(|r| r.offset >= p.next).collect();
                if records.is_empty() {
                    self.metrics.lag(topic, p.id, high - p.next);
                    if p.next < high {
                        drained = false;
                    }
                    continue;
                }
                drained = false;
                let last = records.last().map_or(p.next, |r| r.offset);
                let batch = Batch::decode(topic, p.id, records);
                let n = batch.messages;
                let rejected = batch.rejects.len() as u64;
                let written = self.apply(topic, p.id, batch, last + 1, &mut report).await?;
                report.messages += n;
                report.rejected += rejected;
                report.events += written;
                report.batches += 1;
                p.next = last + 1;
                self.metrics.consumed(n, rejected);
                self.metrics.lag(topic, p.id, high - p.next);
            }
            if drained {
                if options.until_idle {
                    return Ok(report);
                }
                tokio::time::sleep(options.max_wait).await;
            }
        }
    }

    /// Commits one batch of one partition: records, rejects and the next
    /// offset in one transaction; then brings the index and documents along.
    async fn apply(
        &self,
        topic: &str,
        partition: i32,
        batch: Batch,
        next: i64,
        report: &mut ConsumeReport,
    ) -> Result<u64> {
        let file = format!("kafka:{topic}/{partition}");
        let range = format!("{file}@{}-{}", batch.first, next - 1);
        let source = LoadSource {
            path: range.clone(),
            format: SourceKind::Kafka.as_str().to_string(),
            checksum: hex::encode(sha2::Sha256::digest(range.as_bytes())),
            bytes: batch.bytes,
        };
        let cursor = Cursor { stream: stream_name(topic), part: i64::from(partition), position: next };
        let store = self.store.clone();
        let index = self.index.clone();
        let events = batch.events;
        let (summary, indexed) = blocking(move || {
            let started = std::time::Instant::now();
            let load = store.begin_load(&source)?;
            let mut summary = LoadSummary::default();
            if !batch.rejects.is_empty() {
                summary.tables.entry("unparsed".to_string()).or_default().rejected += batch.rejects.len() as u64;
            }
            let outcome =
                store.write_stream_batch(load, SourceKind::Kafka, &file, batch.records, &batch.rejects, &[cursor])?;
            for (table, counts) in &outcome.tables {
                summary.tables.entry(table.clone()).or_default().add(counts);
            }
            summary.status = "completed".into();
            summary.duration_ms = started.elapsed().as_millis() as u64;
            store.finish_load(load, &summary)?;
            let mut indexed = 0;
            if let Some(index) = &index {
                let synced = index.sync(store.as_ref())?;
                indexed = synced.indexed + synced.removed;
            }
            if store.loads_build_documents() {
                ntsb_store::build_missing_documents(store.as_ref())?;
            }
            Ok((summary, indexed))
        })
        .await?;
        for (table, counts) in &summary.tables {
            report.tables.entry(table.clone()).or_default().add(counts);
        }
        report.indexed += indexed;
        Ok(events)
    }
}

/// One fetch of one partition, decoded.
struct Batch {
    first: i64,
    messages: u64,
    bytes: u64,
    events: u64,
    records: Vec<SourcedRecord>,
    rejects: Vec<Reject>,
}

impl Batch {
    /// Decodes the messages; an event sent several times in the batch is
    /// written once, as its last message describes it (each message is the
    /// whole event, so the last one supersedes the others: a file gives the
    /// first value of a field precedence, a stream the last).
    fn decode(topic: &str, partition: i32, records: Vec<rskafka::record::RecordAndOffset>) -> Batch {
        let file = format!("kafka:{topic}/{partition}");
        let first = records.first().map_or(0, |r| r.offset);
        let mut rejects = Vec::new();
        let mut latest: HashMap<String, usize> = HashMap::new();
        let mut decoded = Vec::new();
        let mut bytes = 0u64;
        for r in &records {
            bytes += r.record.approximate_size() as u64;
            let offset = u64::try_from(r.offset).unwrap_or(0);
            match decode(r.record.value.as_deref()) {
                Ok(Decoded::Event { ev_id, records }) => {
                    latest.insert(ev_id, decoded.len());
                    decoded.push((offset, records));
                }
                Ok(Decoded::Deleted) => {}
                Err(m) => rejects.push(Reject {
                    file: file.clone(),
                    line: offset,
                    field: m.field,
                    reason: m.reason,
                    table: None,
                }),
            }
        }
        let mut keep: Vec<usize> = latest.into_values().collect();
        keep.sort_unstable();
        let events = keep.len() as u64;
        let mut out = Vec::new();
        let mut decoded: Vec<Option<(u64, Vec<ntsb_model::records::Record>)>> = decoded.into_iter().map(Some).collect();
        for i in keep {
            if let Some((offset, records)) = decoded[i].take() {
                out.extend(records.into_iter().map(|record| SourcedRecord { line: offset, record }));
            }
        }
        Batch { first, messages: records.len() as u64, bytes, events, records: out, rejects }
    }
}
