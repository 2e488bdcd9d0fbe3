//! The feed engine over a real SQLite store: ordering, resume, filters, slow
//! consumers and limits.

use std::sync::Arc;
use std::time::Duration;

use ntsb_feed::{ChangeKind, Closed, Error, Feed, FeedChange, FeedConfig, Subscription};
use ntsb_model::SourceKind;
use ntsb_model::query::EventFilter;
use ntsb_model::records::{AircraftRecord, EventRecord, EventRef, Record, SourcedRecord};
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{Backend, LoadSource, Store};
use serde_json::Value;

struct Fixture {
    store: Arc<dyn Backend>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("ntsb.sqlite")).expect("open");
    store.migrate().expect("migrate");
    Fixture { store: Arc::new(store), _dir: dir }
}

fn feed(f: &Fixture, config: FeedConfig) -> Feed {
    let feed = Feed::new(f.store.clone(), f.store.clone(), FeedConfig { poll: Duration::from_millis(10), ..config })
        .expect("feed");
    feed.start();
    feed
}

fn event(ev_id: &str, state: &str) -> Record {
    Record::Event(EventRecord {
        ev_id: Some(ev_id.into()),
        state: Some(state.into()),
        event_date: Some("2020-05-01".into()),
        ..Default::default()
    })
}

/// Writes records as one batch of a new load (one load per call, so a later
/// value of the same field is a newer file and wins).
fn write(store: &dyn Backend, name: &str, records: Vec<Record>) {
    let load = store
        .begin_load(&LoadSource { path: name.into(), format: "test".into(), checksum: name.into(), bytes: 1 })
        .expect("begin");
    let sourced = records.into_iter().enumerate().map(|(i, record)| SourcedRecord { line: i as u64 + 2, record });
    store.write_batch(load, SourceKind::Avall, name, sourced.collect()).expect("write");
}

async fn next(sub: &mut Subscription) -> Arc<FeedChange> {
    tokio::time::timeout(Duration::from_secs(20), sub.next()).await.expect("a change in time").expect("open")
}

fn message(change: &FeedChange) -> Value {
    serde_json::from_str(&change.json).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_arrive_in_commit_order_with_their_event() {
    let f = fixture();
    let feed = feed(&f, FeedConfig::default());
    write(&*f.store, "a", vec![event("20200101X00001", "NY"), event("20200101X00002", "TX")]);
    write(&*f.store, "b", vec![event("20200101X00001", "NJ")]);
    // From the start of the log (a replay), then live.
    let mut sub = feed.subscribe(1, EventFilter::default(), Some(0)).await.expect("subscribe");
    let got: Vec<Arc<FeedChange>> = vec![next(&mut sub).await, next(&mut sub).await, next(&mut sub).await];
    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq));
    let first = message(&got[0]);
    assert_eq!(first["kind"], "created");
    assert_eq!(first["ev_id"], "20200101X00001");
    assert_eq!(first["event"]["state"], "NJ", "the event as stored now");
    let third = message(&got[2]);
    assert_eq!(third["kind"], "updated");
    assert_eq!(third["fields"], serde_json::json!(["events.state"]));
    assert_eq!(sub.position(), got[2].seq);
    write(&*f.store, "c", vec![event("20200101X00003", "CA")]);
    let live = next(&mut sub).await;
    assert!(live.seq > got[2].seq);
    assert_eq!(message(&live)["event"]["state"], "CA");
    feed.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_resuming_from_its_position_misses_nothing_and_repeats_nothing() {
    let f = fixture();
    let feed = feed(&f, FeedConfig { read_batch: 3, ..FeedConfig::default() });
    let mut sub = feed.subscribe(1, EventFilter::default(), None).await.expect("subscribe");
    for i in 0..5 {
        write(&*f.store, &format!("a{i}"), vec![event(&format!("20200101X{i:05}"), "NY")]);
    }
    for _ in 0..2 {
        next(&mut sub).await;
    }
    let resume_at = sub.position();
    drop(sub);
    // Changes committed while disconnected, then more after reconnecting.
    for i in 5..12 {
        write(&*f.store, &format!("b{i}"), vec![event(&format!("20200101X{i:05}"), "NY")]);
    }
    let mut again = feed.subscribe(1, EventFilter::default(), Some(resume_at)).await.expect("resume");
    let writer = {
        let store = f.store.clone();
        tokio::task::spawn_blocking(move || {
            for i in 12..20 {
                write(&*store, &format!("c{i}"), vec![event(&format!("20200101X{i:05}"), "NY")]);
            }
        })
    };
    let mut ids = Vec::new();
    for _ in 2..20 {
        let c = next(&mut again).await;
        ids.push(c.ev_id.clone().expect("ev_id"));
    }
    writer.await.expect("writer");
    let expected: Vec<String> = (2..20).map(|i| format!("20200101X{i:05}")).collect();
    assert_eq!(ids, expected);
    // Nothing more is pending: the next change is a new one.
    write(&*f.store, "d", vec![event("20209999X00001", "NY")]);
    assert_eq!(next(&mut again).await.ev_id.as_deref(), Some("20209999X00001"));
    feed.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_changes_as_the_events_listing_does() {
    let f = fixture();
    let feed = feed(&f, FeedConfig::default());
    let ny = EventFilter { state: Some("NY".into()), ..EventFilter::default() };
    let cessna = EventFilter { make: Some("cessna".into()), ..EventFilter::default() };
    let mut by_state = feed.subscribe(1, ny.clone(), None).await.expect("subscribe");
    let mut by_make = feed.subscribe(2, cessna, None).await.expect("subscribe");
    let mut all = feed.subscribe(3, EventFilter::default(), None).await.expect("subscribe");
    write(&*f.store, "a", vec![event("20200101X00001", "TX"), event("20200101X00002", "NY")]);
    // A change is filtered by the event as stored when the engine reads it: let
    // the engine read the first batch before the aircraft arrives.
    for expected in ["20200101X00001", "20200101X00002"] {
        assert_eq!(next(&mut all).await.ev_id.as_deref(), Some(expected));
    }
    let ev = EventRef::EvId("20200101X00001".into());
    write(
        &*f.store,
        "b",
        vec![Record::Aircraft(AircraftRecord {
            event: ev,
            aircraft_key: 1,
            make: Some("CESSNA".into()),
            ..Default::default()
        })],
    );
    write(&*f.store, "c", vec![event("20200101X00003", "NY")]);
    let got: Vec<_> = [next(&mut by_state).await, next(&mut by_state).await]
        .iter()
        .map(|c| c.ev_id.clone().expect("ev_id"))
        .collect();
    assert_eq!(got, ["20200101X00002", "20200101X00003"]);
    let c = next(&mut by_make).await;
    assert_eq!((c.ev_id.as_deref(), c.kind), (Some("20200101X00001"), ChangeKind::Updated));
    assert_eq!(message(&c)["fields"], serde_json::json!(["aircraft"]));
    for expected in ["20200101X00001", "20200101X00003"] {
        assert_eq!(next(&mut all).await.ev_id.as_deref(), Some(expected));
    }
    // The same filter replayed from the start gives the same answer.
    let mut replay = feed.subscribe(4, ny, Some(0)).await.expect("replay");
    assert_eq!(next(&mut replay).await.ev_id.as_deref(), Some("20200101X00002"));
    assert_eq!(next(&mut replay).await.ev_id.as_deref(), Some("20200101X00003"));
    feed.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_closed_while_others_keep_receiving() {
    let f = fixture();
    let feed = feed(&f, FeedConfig { buffer: 16, read_batch: 4, ..FeedConfig::default() });
    let mut slow = feed.subscribe(1, EventFilter::default(), None).await.expect("subscribe");
    let mut fast = feed.subscribe(2, EventFilter::default(), None).await.expect("subscribe");
    // One change at a time, each read by the fast one before the next is written, so
    // only the slow one (which reads nothing) can fall behind, however loaded the machine.
    for i in 0..40 {
        let store = f.store.clone();
        tokio::task::spawn_blocking(move || {
            write(&*store, &format!("a{i}"), vec![event(&format!("20200101X{i:05}"), "NY")])
        })
        .await
        .expect("writer");
        assert_eq!(next(&mut fast).await.ev_id, Some(format!("20200101X{i:05}")));
    }
    // The slow one read nothing meanwhile: it fell more than 16 behind.
    let first = tokio::time::timeout(Duration::from_secs(20), slow.next()).await.expect("answer in time");
    match first {
        Err(Closed::SlowConsumer { behind, position }) => {
            assert!(behind > 0);
            assert_eq!(position, 0, "it was given nothing");
        }
        other => panic!("expected a slow-consumer close, got {other:?}"),
    }
    assert_eq!(feed.stats().dropped_slow.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert!(Closed::SlowConsumer { behind: 3, position: 7 }.reason().contains("since=7"));
    feed.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limits_and_positions_beyond_the_log_are_refused() {
    let f = fixture();
    let feed = feed(&f, FeedConfig { max_per_user: 2, max_subscribers: 3, ..FeedConfig::default() });
    let a = feed.subscribe(1, EventFilter::default(), None).await.expect("first");
    let _b = feed.subscribe(1, EventFilter::default(), None).await.expect("second");
    assert!(matches!(feed.subscribe(1, EventFilter::default(), None).await, Err(Error::TooManyForUser { limit: 2 })));
    let _c = feed.subscribe(2, EventFilter::default(), None).await.expect("another user");
    assert!(matches!(feed.subscribe(3, EventFilter::default(), None).await, Err(Error::TooMany { limit: 3 })));
    drop(a);
    feed.subscribe(1, EventFilter::default(), None).await.expect("a slot was freed");
    assert!(matches!(
        feed.subscribe(4, EventFilter::default(), Some(99)).await,
        Err(Error::SinceAhead { since: 99, head: 0 })
    ));
    feed.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_engine_ends_subscriptions() {
    let f = fixture();
    let feed = feed(&f, FeedConfig::default());
    let mut sub = feed.subscribe(1, EventFilter::default(), None).await.expect("subscribe");
    feed.stop();
    let end = tokio::time::timeout(Duration::from_secs(20), sub.next()).await.expect("in time");
    assert_eq!(end.err(), Some(Closed::Stopped));
}
