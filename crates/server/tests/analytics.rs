//! Statistics, listing pages (with their cursors) and the density grid answered
//! by the analytical engine are the store's answers, byte for byte, for every statistics endpoint and many
//! filters; before the engine is built the store answers; after a write the
//! engine catches up.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use ntsb_analytics::Analytics;
use ntsb_load::{LoadOptions, Loader, NoProgress};
use ntsb_model::SourceKind;
use ntsb_search::SearchIndex;
use ntsb_server::AppState;
use ntsb_store::Store;
use ntsb_store::sqlite::SqliteStore;
use tower::ServiceExt;

const STATS: [&str; 13] = [
    "summary",
    "yearly",
    "monthly",
    "seasonal",
    "day-of-week",
    "decades",
    "states",
    "makes",
    "make-models",
    "phases",
    "weather",
    "far-parts",
    "findings",
];

const FILTERS: [&str; 12] = [
    "",
    "state=CA",
    "state=tx&highest_injury=fatal",
    "from=1995-03-01&to=2004-10-15",
    "year=2001&weather=imc",
    "make=cessna&far_part=91",
    "make=piper&model=pa&phase=landing",
    "event_type=incident&has_narrative=true",
    "bbox=-125,32,-114,42",
    "q=engine",
    "damage=destroyed&category=air",
    "to=1990-01-01&from=1991-01-01",
];

async fn get(state: &AppState, uri: &str) -> (StatusCode, Vec<u8>) {
    let res = ntsb_server::router(state.clone()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    (status, to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec())
}

fn uris() -> Vec<String> {
    let mut out = Vec::new();
    for f in FILTERS {
        for s in STATS.iter().chain(&["occurrences"]) {
            out.push(format!("/api/v1/stats/{s}?{f}"));
        }
        out.push(format!("/api/v1/events?{f}&limit=3"));
        for sort in ["date", "-fatalities", "state", "-make"] {
            out.push(format!("/api/v1/events?{f}&limit=4&sort={sort}"));
        }
        out.push(format!("/api/v1/geo/density?{f}&cell=2.5"));
        out.push(format!("/api/v1/stats/makes?{f}&min_count=3&limit=5"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_answers_what_the_store_answers_and_follows_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("ntsb.sqlite")).unwrap());
    store.migrate().unwrap();
    let index = Arc::new(SearchIndex::open_or_create(&dir.path().join("index")).unwrap());
    let load = |seed: u64, events: usize| {
        let loader = Loader::new(store.as_ref(), Some(&index), LoadOptions::new(dir.path().join("rejects")));
        let records = ntsb_ingest::demo::generate(seed, events);
        loader.load_records(&format!("demo {seed}"), SourceKind::Demo, records, &mut NoProgress).unwrap();
    };
    load(7, 500);
    let plain = AppState::from_sqlite(store.clone(), index.clone()).with_cache_bytes(0);
    let engine = Analytics::new(store.clone(), store.clone());
    let fast = AppState::from_sqlite(store.clone(), index.clone()).with_analytics(engine.clone()).with_cache_bytes(0);

    // Not built yet: the store answers.
    assert!(!engine.is_ready());
    for uri in uris().iter().take(20) {
        assert_eq!(get(&fast, uri).await, get(&plain, uri).await, "{uri}");
    }
    engine.build().unwrap();
    let compare = || async {
        for uri in uris() {
            let (a, b) = (get(&fast, &uri).await, get(&plain, &uri).await);
            assert_eq!(a.0, b.0, "{uri}: {}", String::from_utf8_lossy(&a.1));
            assert_eq!(String::from_utf8_lossy(&a.1), String::from_utf8_lossy(&b.1), "{uri}");
        }
    };
    compare().await;
    // Pages followed by their cursors: the same items, totals and cursors.
    for (f, sort) in
        [("", "-date"), ("state=CA", "make"), ("highest_injury=fatal", "-fatalities"), ("q=engine", "state")]
    {
        let mut cursor = String::new();
        for page in 0..6 {
            let uri = format!("/api/v1/events?{f}&limit=9&sort={sort}{cursor}");
            let (a, b) = (get(&fast, &uri).await, get(&plain, &uri).await);
            assert_eq!(a.0, StatusCode::OK, "{uri}");
            assert_eq!(String::from_utf8_lossy(&a.1), String::from_utf8_lossy(&b.1), "{uri}, page {page}");
            let body: serde_json::Value = serde_json::from_slice(&a.1).unwrap();
            match body["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
    }
    let (status, body) = get(&fast, "/api/v1/stats/summary?to=1990-01-01&from=1991-01-01").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));

    // More events (another sample: new events and revisions of the same ev_ids), then catch up.
    load(8, 300);
    assert!(engine.catch_up().unwrap() > 0);
    compare().await;
}
