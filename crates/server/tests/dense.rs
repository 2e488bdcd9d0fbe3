//! `GET /api/v1/search?mode=dense|hybrid`: dense retrieval with the real
//! all-MiniLM-L6-v2 weights (`deploy/tools.sh` installs them), the event
//! filters applied to every mode, and BM25 answering (and saying so) when
//! there are no vectors.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use ntsb_model::SourceKind;
use ntsb_model::records::{EventRecord, EventRef, NarrativeRecord, Record, SourcedRecord};
use ntsb_retrieval::{Embedder, Retriever, Scope, VectorIndex};
use ntsb_search::SearchIndex;
use ntsb_server::AppState;
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{LoadSource, Store};
use serde_json::Value;
use tower::ServiceExt;

mod support;

const EVENTS: [(&str, &str, &str, &str); 4] = [
    (
        "20080124X00101",
        "2008-01-24",
        "During the initial climb the engine lost total power and the pilot landed in a field.",
        "A total loss of engine power for undetermined reasons.",
    ),
    (
        "20090305X00202",
        "2009-03-05",
        "The helicopter struck power lines while spraying a field.",
        "The pilot's failure to maintain clearance from wires during aerial application.",
    ),
    (
        "20100610X00303",
        "2010-06-10",
        "The student pilot bounced the landing and the nose gear collapsed.",
        "The student pilot's improper landing flare.",
    ),
    (
        "20100820X00404",
        "2010-08-20",
        "The agricultural airplane hit a wire strung across the field during a spray run.",
        "The pilot did not see the wire while applying chemicals.",
    ),
];

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    index: Arc<SearchIndex>,
    vectors_dir: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(&dir.path().join("ntsb.sqlite")).expect("store"));
    store.migrate().expect("migrate");
    let source =
        LoadSource { path: "test".into(), format: "narrative-jsonl".into(), checksum: format!("{:064x}", 1), bytes: 0 };
    let load = store.begin_load(&source).expect("load");
    let mut records = Vec::new();
    for (ev_id, date, narrative, cause) in EVENTS {
        records.push(Record::Event(EventRecord {
            ev_id: Some(ev_id.into()),
            ntsb_no: Some(format!("TST{}", &ev_id[9..])),
            event_type: Some("accident".into()),
            event_date: Some(date.into()),
            synthetic: Some(false),
            ..Default::default()
        }));
        records.push(Record::Narrative(NarrativeRecord {
            event: EventRef::EvId(ev_id.into()),
            aircraft_key: 0,
            narrative: Some(narrative.into()),
            probable_cause: Some(cause.into()),
            ..Default::default()
        }));
    }
    let records = records.into_iter().enumerate().map(|(i, record)| SourcedRecord { line: i as u64 + 1, record });
    let out = store.write_batch(load, SourceKind::NarrativeJsonl, "test", records.collect()).expect("write");
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let index = SearchIndex::open_or_create(&dir.path().join("index")).expect("index");
    index.sync(store.as_ref()).expect("sync");
    let vectors_dir = dir.path().join("vectors");
    Fixture { _dir: dir, store, index: Arc::new(index), vectors_dir }
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, Value) {
    let req = Request::builder().uri(uri).body(Body::empty()).expect("request");
    let res = ntsb_server::router(state.clone()).oneshot(req).await.expect("response");
    let status = res.status();
    let body = to_bytes(res.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn ev_ids(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|i| i["ev_id"].as_str().unwrap_or("").to_string()).collect()
}

#[tokio::test]
async fn without_vectors_every_mode_answers_by_bm25_and_says_so() {
    let fx = fixture();
    let (state, _key) = support::authenticated(AppState::from_sqlite(fx.store.clone(), fx.index.clone()), fx.store);
    for mode in ["dense", "hybrid"] {
        let (status, page) = get(&state, &format!("/api/v1/search?q=wire&mode={mode}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["mode"], "bm25");
        assert!(page["notice"].as_str().is_some_and(|n| n.contains("BM25")), "{page}");
        assert_eq!(ev_ids(&page).len(), 2, "both wire events: {page}");
    }
    let (status, page) = get(&state, "/api/v1/search?q=wire").await;
    assert_eq!((status, page["mode"].as_str()), (StatusCode::OK, Some("bm25")));
    assert!(page.get("notice").is_none(), "BM25 asked, BM25 given: no notice");
    let (status, problem) = get(&state, "/api/v1/search?q=wire&mode=semantic").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(problem.to_string().contains("mode"), "{problem}");
}

#[tokio::test]
async fn dense_and_hybrid_rank_by_meaning_and_honour_the_filters() {
    let Some(model) = ntsb_test_support::embedding_model("server::dense_and_hybrid_rank_by_meaning") else { return };
    let fx = fixture();
    let embedder = Embedder::load(&model).expect("model");
    let vectors = VectorIndex::open_or_create(&fx.vectors_dir, &embedder, Scope::default(), false).expect("vectors");
    vectors.sync(fx.store.as_ref(), &embedder, &AtomicBool::new(false), &mut |_| {}).expect("embed");
    let retriever = Arc::new(Retriever::new(embedder, vectors));
    let state = AppState::from_sqlite(fx.store.clone(), fx.index.clone()).with_dense(retriever);
    let (state, _key) = support::authenticated(state, fx.store);

    // No word of the query is in the helicopter's text: dense still finds it.
    let q = "rotorcraft%20collided%20with%20cables%20while%20crop%20dusting";
    let (status, page) = get(&state, &format!("/api/v1/search?q={q}&mode=dense&limit=2")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["mode"], "dense");
    let top = ev_ids(&page);
    assert!(top.contains(&"20090305X00202".to_string()), "{page}");
    assert_eq!(page["items"][0]["snippet"].as_str().map(|s| !s.is_empty()), Some(true));
    let s0 = page["items"][0]["score"].as_f64().expect("score");
    let s1 = page["items"][1]["score"].as_f64().expect("score");
    assert!(s0 >= s1 && s0 <= 1.0, "cosines, best first: {page}");

    // The event filters apply before ranking: only 2010 events.
    let (_, page) = get(&state, &format!("/api/v1/search?q={q}&mode=dense&year=2010")).await;
    let ids = ev_ids(&page);
    assert_eq!(ids.len(), 2, "{page}");
    assert!(ids.iter().all(|id| id.starts_with("2010")), "{page}");
    assert_eq!(ids[0], "20100820X00404", "the wire strike of 2010 before the hard landing: {page}");
    let (_, page) = get(&state, &format!("/api/v1/search?q={q}&mode=hybrid&year=2010")).await;
    assert_eq!(page["mode"], "hybrid");
    assert!(ev_ids(&page).iter().all(|id| id.starts_with("2010")), "{page}");

    // Hybrid: an event both rankings put first stays first.
    let (_, page) = get(&state, "/api/v1/search?q=helicopter%20struck%20power%20lines&mode=hybrid").await;
    assert_eq!(page["mode"], "hybrid");
    assert_eq!(ev_ids(&page)[0], "20090305X00202", "{page}");
    assert!(page.get("notice").is_none(), "vectors cover everything: {page}");
    // Paging beyond the ranked events is empty, not an error.
    let (status, page) = get(&state, "/api/v1/search?q=wire&mode=hybrid&offset=50").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ev_ids(&page).is_empty());
}
