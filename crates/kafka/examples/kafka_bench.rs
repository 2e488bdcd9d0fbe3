//! Kafka throughput of `bench/live.sh`.
//!
//! ```text
//! cargo run --release -p ntsb-kafka --example kafka_bench -- \
//!     --brokers 127.0.0.1:9092 --source STORE.sqlite|EXPORT.csv --work DIR [--events N] [--partitions P]
//! ```
//!
//! Takes the detail documents of up to `--events` events of the store `--source` (a CSV
//! export is loaded into a store of its own first),
//! produces them to a new topic, then measures (1) the consumer: `Consumer::run`
//! until idle into a fresh SQLite store in `--work` (records per second into the
//! store, indexing not included), and (2) the publisher: `Publisher` on that
//! store, whose change log now holds one change per event, until the broker has
//! acknowledged every change (changes per second). Prints one JSON line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ntsb_kafka::{ConsumeOptions, Consumer, KafkaConfig, KafkaMetrics, PublishOptions, Publisher};
use ntsb_store::Backend;
use rskafka::client::partition::{Compression, UnknownTopicHandling};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let brokers = arg(&args, "--brokers").expect("--brokers HOST:PORT");
    let source = arg(&args, "--source").expect("--source STORE");
    let work = std::path::PathBuf::from(arg(&args, "--work").expect("--work DIR"));
    let events: usize = arg(&args, "--events").map_or(50_000, |v| v.parse().expect("N"));
    let partitions: i32 = arg(&args, "--partitions").map_or(3, |v| v.parse().expect("P"));
    let config = KafkaConfig::new(vec![brokers.clone()]).expect("brokers");
    // A CSV export is loaded into a store of its own first (through the file loader).
    let source: Arc<dyn Backend> = if source.ends_with(".csv") {
        std::fs::create_dir_all(&work).expect("work dir");
        let store: Arc<dyn Backend> =
            ntsb_store::open(work.join("source.sqlite").to_str().expect("path")).expect("store");
        store.migrate().expect("migrate");
        let loader = ntsb_load::Loader::new(store.as_ref(), None, ntsb_load::LoadOptions::new(work.join("rejects")));
        loader.load_paths(&[source.into()], &mut ntsb_load::NoProgress).expect("load");
        store
    } else {
        ntsb_store::open(&source).expect("source store")
    };

    // The documents to send.
    let source2 = source.clone();
    let docs: Vec<(String, Vec<u8>)> = tokio::task::spawn_blocking(move || {
        let mut ids = Vec::new();
        let mut after = 0;
        while ids.len() < events {
            let changes = source2.changes(after, 10_000).expect("changes");
            let Some(last) = changes.last() else { break };
            after = last.seq;
            ids.extend(changes.into_iter().filter_map(|c| c.ev_id));
            ids.sort();
            ids.dedup();
        }
        ids.truncate(events);
        ids.into_iter().filter_map(|id| source2.event_detail_json(&id).expect("detail").map(|d| (id, d))).collect()
    })
    .await
    .expect("documents");
    let bytes: usize = docs.iter().map(|(_, d)| d.len()).sum();

    let topic = format!("bench.events.{}", std::process::id());
    let client = rskafka::client::ClientBuilder::new(vec![brokers]).build().await.expect("client");
    client.controller_client().expect("controller").create_topic(&topic, partitions, 1, 5_000).await.expect("topic");
    let produce_started = Instant::now();
    let mut by_partition: Vec<Vec<rskafka::record::Record>> = (0..partitions).map(|_| Vec::new()).collect();
    for (id, doc) in &docs {
        let p = ntsb_kafka::partition::partition_of(id.as_bytes(), partitions) as usize;
        by_partition[p].push(rskafka::record::Record {
            key: Some(id.clone().into_bytes()),
            value: Some(doc.clone()),
            headers: Default::default(),
            timestamp: chrono::Utc::now(),
        });
    }
    for (p, records) in by_partition.into_iter().enumerate() {
        let pc = client.partition_client(&topic, p as i32, UnknownTopicHandling::Retry).await.expect("partition");
        for chunk in records.chunks(500) {
            pc.produce(chunk.to_vec(), Compression::NoCompression).await.expect("produce");
        }
    }
    let produce_secs = produce_started.elapsed().as_secs_f64();

    // Consume into a fresh store.
    std::fs::create_dir_all(&work).expect("work dir");
    let path = work.join(format!("consumed-{}.sqlite", std::process::id()));
    let store: Arc<dyn Backend> = Arc::new(ntsb_store::sqlite::SqliteStore::open(&path).expect("store"));
    store.migrate().expect("migrate");
    let consumer = Consumer::new(store.clone(), None, config.clone(), Arc::new(KafkaMetrics::default()));
    let consume_started = Instant::now();
    let report = consumer.run(&ConsumeOptions::until_idle(&topic)).await.expect("consume");
    let consume_secs = consume_started.elapsed().as_secs_f64();

    // Publish that store's change log.
    let metrics = Arc::new(KafkaMetrics::default());
    let options = PublishOptions {
        partitions,
        poll: Duration::from_millis(20),
        ..PublishOptions::new(&format!("bench.changes.{}", std::process::id()))
    };
    let head = store.change_log_head().expect("head");
    let publish_started = Instant::now();
    let handle = Publisher::new(store.clone(), config, options, metrics.clone()).expect("publisher").spawn();
    while metrics.published_total() < head {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let publish_secs = publish_started.elapsed().as_secs_f64();
    handle.stop().await;

    let rate = |n: f64, s: f64| (n / s).round();
    println!(
        "{}",
        serde_json::json!({
            "events": docs.len(),
            "document_bytes": bytes,
            "partitions": partitions,
            "produce": {"secs": produce_secs, "messages_per_sec": rate(docs.len() as f64, produce_secs)},
            "consume": {"secs": consume_secs, "messages": report.messages, "events_written": report.events,
                        "batches": report.batches, "messages_per_sec": rate(report.messages as f64, consume_secs)},
            "publish": {"secs": publish_secs, "changes": head, "changes_per_sec": rate(head as f64, publish_secs)},
        })
    );
}
