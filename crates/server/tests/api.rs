//! The HTTP API in process: the real router (middleware included) over a
//! temporary SQLite store loaded with the synthetic demo sample, driven with
//! `oneshot` requests.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, OnceLock};

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use ntsb_load::{LoadOptions, Loader, NoProgress};
use ntsb_model::SourceKind;
use ntsb_search::SearchIndex;
use ntsb_server::AppState;
use ntsb_store::Store;
use ntsb_store::sqlite::SqliteStore;
use serde_json::Value;
use tower::ServiceExt;

mod support;

struct Fixture {
    _dir: tempfile::TempDir,
    state: AppState,
    /// An admin's API key (exports need a user).
    key: String,
}

/// One store for the whole binary (loading takes a few seconds); tests only read it.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("ntsb.sqlite")).unwrap());
        store.migrate().unwrap();
        let index = SearchIndex::open_or_create(&dir.path().join("index")).unwrap();
        let loader = Loader::new(store.as_ref(), Some(&index), LoadOptions::new(dir.path().join("rejects")));
        let records = ntsb_ingest::demo::generate(7, 600);
        loader.load_records("demo sample", SourceKind::Demo, records, &mut NoProgress).unwrap();
        let (state, key) = support::authenticated(AppState::from_sqlite(store.clone(), Arc::new(index)), store);
        Fixture { state, key, _dir: dir }
    })
}

fn state() -> AppState {
    fixture().state.clone()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request as the fixture's admin (its API key is added to `headers`).
async fn request(method: Method, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::builder().method(method).uri(uri).header("x-api-key", fixture().key.as_str());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = ntsb_server::router(state()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec();
    Answer { status, headers, body }
}

async fn get(uri: &str) -> Answer {
    request(Method::GET, uri, &[]).await
}

async fn ok_json(uri: &str) -> Value {
    let a = get(uri).await;
    assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text());
    a.json()
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn assert_problem(a: &Answer, status: u16, code: &str) -> Value {
    assert_eq!(a.status.as_u16(), status, "{}", a.text());
    assert_eq!(a.header("content-type"), Some("application/problem+json"));
    let p = a.json();
    assert_eq!(p["status"], status);
    assert_eq!(p["code"], code, "{p}");
    assert!(p["title"].is_string() && p["detail"].is_string() && p["type"].is_string(), "{p}");
    p
}

/// Every event matching `query`, following cursors; asserts no page repeats an event.
async fn all_events(query: &str, page: usize) -> (Vec<Value>, u64) {
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut total = None;
    for _ in 0..10_000 {
        let mut uri = format!("/api/v1/events?limit={page}&{query}");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={}", enc(c)));
        }
        let v = ok_json(&uri).await;
        let t = v["total"].as_u64().unwrap();
        assert_eq!(*total.get_or_insert(t), t, "total changed between pages");
        let page_items = v["items"].as_array().unwrap();
        assert!(page_items.len() <= page);
        for item in page_items {
            let id = item["ev_id"].as_str().unwrap().to_string();
            assert!(seen.insert(id.clone()), "{id} returned twice for {query}");
            items.push(item.clone());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    (items, total.unwrap())
}

#[tokio::test]
async fn health_ready_and_metrics_answer() {
    assert_eq!(ok_json("/health").await["status"], "ok");
    let ready = ok_json("/ready").await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["store"]["content"], "demo");
    assert!(ready["index"]["documents"].as_u64().unwrap() > 0);
    assert_eq!(ready["store"]["backend"], "sqlite");
    assert_eq!(ready["index"]["position"], ready["index"]["store_position"], "the index is up to date");
    ok_json("/api/v1/stats/summary").await;
    let m = get("/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    let text = m.text();
    for needle in [
        "ntsb_http_requests_total{method=\"GET\",route=\"/api/v1/stats/summary\",status=\"200\"}",
        "ntsb_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/stats/summary\",status=\"200\",le=\"+Inf\"}",
        "ntsb_http_requests_in_flight ",
        "ntsb_build_info{version=",
        "ntsb_index_documents ",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[tokio::test]
async fn paging_with_the_cursor_visits_every_event_once() {
    let (all, total) = all_events("", 1000).await;
    assert_eq!(all.len() as u64, total);
    assert!(total >= 600, "{total}");
    for (query, page) in
        [("", 37), ("sort=fatalities", 50), ("sort=-fatalities&highest_injury=fatal", 7), ("sort=state", 101)]
    {
        let (items, t) = all_events(query, page).await;
        assert_eq!(items.len() as u64, t, "{query}");
        if query.contains("-fatalities") {
            let f: Vec<u64> = items.iter().map(|i| i["injuries"]["fatal"].as_u64().unwrap()).collect();
            assert!(f.windows(2).all(|w| w[0] >= w[1]), "not sorted by -fatalities");
        }
    }
    // Newest first by default.
    let dates: Vec<String> = all.iter().filter_map(|i| i["event_date"].as_str().map(String::from)).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]));
    for item in &all {
        for key in ["ev_id", "ntsb_no", "event_date", "state", "city", "highest_injury", "injuries"] {
            assert!(item.get(key).is_some(), "{key} missing in {item}");
        }
    }
}

/// A property every item of a filtered listing must have.
type Check = Box<dyn Fn(&Value) -> bool>;

#[tokio::test]
async fn filters_narrow_the_listing_and_every_item_matches() {
    let (_, everything) = all_events("", 1000).await;
    let checks: Vec<(&str, Check)> = vec![
        ("state=ca", Box::new(|i| i["state"] == "CA")),
        ("highest_injury=fatal", Box::new(|i| i["highest_injury"] == "fatal")),
        ("event_type=accident", Box::new(|i| i["event_type"] == "accident")),
        ("weather=vmc", Box::new(|i| i["weather"] == "VMC")),
        ("phase=landing", Box::new(|i| i["phase"] == "landing")),
        ("year=2010", Box::new(|i| i["event_date"].as_str().unwrap().starts_with("2010"))),
        (
            "from=2005-03-01&to=2007-06-30",
            Box::new(|i| ("2005-03-01".."2007-07-01").contains(&i["event_date"].as_str().unwrap())),
        ),
        (
            "bbox=-125,32,-114,42",
            Box::new(|i| {
                let (lon, lat) = (i["longitude"].as_f64().unwrap(), i["latitude"].as_f64().unwrap());
                (-125.0..=-114.0).contains(&lon) && (32.0..=42.0).contains(&lat)
            }),
        ),
        ("highest_injury=fatal&weather=IMC", Box::new(|i| i["highest_injury"] == "fatal" && i["weather"] == "IMC")),
    ];
    for (query, holds) in checks {
        let (items, total) = all_events(query, 500).await;
        assert!(total > 0, "{query} matched nothing in the sample");
        assert!(total < everything, "{query} did not narrow");
        for i in &items {
            assert!(holds(i), "{query}: {i}");
        }
    }
    let (with, with_total) = all_events("has_narrative=true", 1000).await;
    let (without, without_total) = all_events("has_narrative=false", 1000).await;
    assert_eq!(with_total + without_total, everything);
    assert!(with.iter().all(|i| i["has_narrative"] == true) && without.iter().all(|i| i["has_narrative"] == false));
    // Aircraft-level filters: the detail shows a matching aircraft.
    let v = ok_json("/api/v1/events?make=cessna&limit=5").await;
    assert!(v["total"].as_u64().unwrap() > 0);
    for item in v["items"].as_array().unwrap() {
        let d = ok_json(&format!("/api/v1/events/{}", item["ev_id"].as_str().unwrap())).await;
        let makes: Vec<String> = d["aircraft"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["make"].as_str().map(str::to_uppercase))
            .collect();
        assert!(makes.iter().any(|m| m.contains("CESSNA")), "{makes:?}");
    }
}

#[tokio::test]
async fn free_text_narrows_events_and_search_ranks_with_snippets() {
    let (_, everything) = all_events("", 1000).await;
    let search = ok_json("/api/v1/search?q=engine&limit=5").await;
    let hits = search["total"].as_u64().unwrap();
    assert!(hits > 0 && hits < everything, "{hits}");
    let items = search["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    let scores: Vec<f64> = items.iter().map(|i| i["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(items.iter().all(|i| i["snippet"].as_str().unwrap().contains("<mark>")), "{search}");
    let (listed, total) = all_events("q=engine", 1000).await;
    assert_eq!(total, hits);
    assert_eq!(listed.len() as u64, hits);
    // Search with a structured filter: the total is the intersection.
    let fatal = ok_json("/api/v1/search?q=engine&highest_injury=fatal&limit=1000").await;
    let (both, both_total) = all_events("q=engine&highest_injury=fatal", 1000).await;
    assert_eq!(fatal["total"].as_u64().unwrap(), both_total);
    let ids: BTreeSet<&str> = both.iter().map(|i| i["ev_id"].as_str().unwrap()).collect();
    for item in fatal["items"].as_array().unwrap() {
        assert!(ids.contains(item["ev_id"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn hostile_search_text_never_causes_a_server_error() {
    let long = "a".repeat(5_000);
    let words = "engine ".repeat(300);
    let hostile = [
        "\"",
        "(((",
        ")))",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        &long,
        &words,
        "✈️🔥 émoji ünïcode 中文",
        "narrative:",
        "ntsb_no:*",
        "year:[2000 TO",
        "*",
        "-",
        "AND OR NOT",
        "\\",
        "%00",
        "\u{0}",
        "~2^3",
    ];
    for q in hostile {
        for path in ["/api/v1/search", "/api/v1/events", "/api/v1/stats/summary"] {
            let a = get(&format!("{path}?q={}", enc(q))).await;
            assert!(
                a.status == StatusCode::OK || a.status == StatusCode::BAD_REQUEST,
                "{path} q={q:?}: {} {}",
                a.status,
                a.text()
            );
            if a.status == StatusCode::BAD_REQUEST {
                assert_eq!(assert_problem(&a, 400, "invalid_parameter")["parameter"], "q");
            }
        }
    }
}

#[tokio::test]
async fn event_detail_has_everything_and_unknown_ids_are_404_problems() {
    let v = ok_json("/api/v1/events?limit=1&has_narrative=true").await;
    let ev_id = v["items"][0]["ev_id"].as_str().unwrap().to_string();
    let d = ok_json(&format!("/api/v1/events/{ev_id}")).await;
    assert_eq!(d["ev_id"], ev_id.as_str());
    for key in ["aircraft", "crew", "findings", "occurrences", "revisions", "sources", "injuries"] {
        assert!(d.get(key).is_some(), "{key} missing: {d}");
    }
    assert!(d["narrative"].is_string());
    assert!(!d["aircraft"].as_array().unwrap().is_empty());
    for bad in ["20990101X99999", "nope", "%3Cscript%3E", &"9".repeat(300)] {
        let a = get(&format!("/api/v1/events/{bad}")).await;
        assert_problem(&a, 404, "not_found");
    }
}

#[tokio::test]
async fn invalid_parameters_get_a_400_problem_naming_them() {
    let cases = [
        ("/api/v1/events?from=2020-13-01", "from"),
        ("/api/v1/events?to=2020-02-30", "to"),
        ("/api/v1/events?from=yesterday", "from"),
        ("/api/v1/events?from=2020-05-01&to=2020-01-01", "to"),
        ("/api/v1/events?year=abc", "year"),
        ("/api/v1/events?highest_injury=deadly", "highest_injury"),
        ("/api/v1/events?damage=smashed", "damage"),
        ("/api/v1/events?phase=flying", "phase"),
        ("/api/v1/events?weather=sunny", "weather"),
        ("/api/v1/events?event_type=crash", "event_type"),
        ("/api/v1/events?has_narrative=maybe", "has_narrative"),
        ("/api/v1/events?limit=0", "limit"),
        ("/api/v1/events?limit=5000", "limit"),
        ("/api/v1/events?limit=-1", "limit"),
        ("/api/v1/events?limit=ten", "limit"),
        ("/api/v1/events?sort=speed", "sort"),
        ("/api/v1/events?cursor=not-a-cursor", "cursor"),
        ("/api/v1/events?stat=CA", "stat"),
        ("/api/v1/events?state=CA&state=TX", "state"),
        ("/api/v1/events?state=California", "state"),
        ("/api/v1/events?bbox=1,2,3", "bbox"),
        ("/api/v1/events?bbox=-66,24,-125,50", "bbox"),
        ("/api/v1/events?bbox=0,0,200,10", "bbox"),
        ("/api/v1/events?bbox=a,b,c,d", "bbox"),
        ("/api/v1/events?q=", "q"),
        ("/api/v1/search", "q"),
        ("/api/v1/search?q=x&offset=999999", "offset"),
        ("/api/v1/stats/yearly?min_count=3", "min_count"),
        ("/api/v1/stats/makes?min_count=0", "min_count"),
        ("/api/v1/geo/radius?lat=100&lon=0&km=10", "lat"),
        ("/api/v1/geo/radius?lat=10&lon=0", "km"),
        ("/api/v1/geo/radius?lat=10&lon=0&km=0", "km"),
        ("/api/v1/geo/density?cell=0", "cell"),
        ("/api/v1/geo/clusters?eps_km=-1", "eps_km"),
        ("/api/v1/geo/clusters?min_points=1", "min_points"),
        ("/api/v1/export/events.csv?year=1700", "year"),
        ("/health?verbose=1", "verbose"),
    ];
    for (uri, parameter) in cases {
        let a = get(uri).await;
        let p = assert_problem(&a, 400, "invalid_parameter");
        assert_eq!(p["parameter"], parameter, "{uri}: {p}");
        assert!(p["detail"].as_str().unwrap().contains(parameter), "{uri}: {p}");
    }
}

#[tokio::test]
async fn every_response_carries_security_headers_and_the_request_id() {
    let uris = ["/health", "/api/v1/events?limit=1", "/api/v1/events?limit=0", "/nowhere", "/docs", "/openapi.json"];
    for uri in uris {
        for method in [Method::GET, Method::POST] {
            let a = request(method.clone(), uri, &[("x-request-id", "client-id-42")]).await;
            assert_eq!(a.header("x-content-type-options"), Some("nosniff"), "{method} {uri}");
            assert_eq!(a.header("x-frame-options"), Some("DENY"));
            assert_eq!(a.header("referrer-policy"), Some("no-referrer"));
            let csp = a.header("content-security-policy").unwrap();
            assert!(csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
            assert!(a.header("strict-transport-security").is_none(), "HSTS only in production");
            assert_eq!(a.header("x-request-id"), Some("client-id-42"), "{method} {uri}");
            if method == Method::POST {
                assert!(a.status == StatusCode::METHOD_NOT_ALLOWED || a.status == StatusCode::NOT_FOUND, "{uri}");
                assert_eq!(a.header("content-type"), Some("application/problem+json"));
            }
        }
    }
    let a = request(Method::GET, "/health", &[("x-request-id", "bad id\twith spaces")]).await;
    let id = a.header("x-request-id").unwrap();
    assert!(!id.is_empty() && !id.contains(' '), "{id}");
    let b = get("/health").await;
    assert_ne!(b.header("x-request-id"), a.header("x-request-id"));
}

#[tokio::test]
async fn production_mode_adds_hsts_and_cors_is_off_unless_configured() {
    let opts = ntsb_server::ServerOptions {
        production: true,
        cors_origins: vec!["https://dash.example.org".into()],
        ..Default::default()
    };
    let app = ntsb_server::router_with(state(), &opts).unwrap();
    let req = Request::get("/health").header("origin", "https://dash.example.org").body(Body::empty()).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert!(res.headers().get("strict-transport-security").is_some());
    assert_eq!(res.headers().get("access-control-allow-origin").unwrap(), "https://dash.example.org");
    let req = Request::get("/health").header("origin", "https://evil.example").body(Body::empty()).unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let a = request(Method::GET, "/health", &[("origin", "https://dash.example.org")]).await;
    assert!(a.header("access-control-allow-origin").is_none());
    let bad = ntsb_server::ServerOptions { cors_origins: vec!["dash.example.org/".into()], ..Default::default() };
    assert!(ntsb_server::router_with(state(), &bad).is_err());
}

#[tokio::test]
async fn etag_and_if_none_match_give_304() {
    let uri = "/api/v1/stats/yearly?highest_injury=fatal";
    let a = get(uri).await;
    let tag = a.header("etag").unwrap().to_string();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
    assert_eq!(a.header("cache-control"), Some("public, max-age=60"));
    let b = request(Method::GET, uri, &[("if-none-match", &tag)]).await;
    assert_eq!(b.status, StatusCode::NOT_MODIFIED);
    assert!(b.body.is_empty());
    assert_eq!(b.header("etag"), Some(tag.as_str()));
    let weak = format!("W/{tag}");
    let c = request(Method::GET, uri, &[("if-none-match", &weak)]).await;
    assert_eq!(c.status, StatusCode::NOT_MODIFIED);
    let d = request(Method::GET, uri, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.body, a.body);
    let other = get("/api/v1/stats/yearly?highest_injury=none").await;
    assert_ne!(other.header("etag").unwrap(), tag);
    // Errors are not cacheable.
    assert!(get("/api/v1/events?limit=0").await.header("etag").is_none());
}

#[tokio::test]
async fn every_statistics_endpoint_answers_with_rows() {
    let summary = ok_json("/api/v1/stats/summary").await;
    let events = summary["events"].as_u64().unwrap();
    assert!(events >= 600);
    let ci = summary["fatal_rate_ci95"].as_array().unwrap();
    let rate = summary["fatal_rate"].as_f64().unwrap();
    assert!(ci[0].as_f64().unwrap() <= rate && rate <= ci[1].as_f64().unwrap());
    let keyed = [
        ("yearly", "year"),
        ("monthly", "month"),
        ("seasonal", "season"),
        ("day-of-week", "day"),
        ("decades", "decade"),
        ("states", "state"),
        ("makes", "make"),
        ("make-models", "model"),
        ("phases", "phase"),
        ("weather", "weather"),
        ("far-parts", "far_part"),
    ];
    for (path, key) in keyed {
        let v = ok_json(&format!("/api/v1/stats/{path}?from=2000-01-01")).await;
        let rows = v["items"].as_array().unwrap();
        assert!(!rows.is_empty(), "{path}");
        for r in rows {
            assert!(r.get(key).is_some(), "{path}: {r}");
            assert!(r["events"].as_u64().unwrap() >= r["fatal_events"].as_u64().unwrap(), "{path}: {r}");
        }
    }
    let time_like_sum: u64 = ok_json("/api/v1/stats/monthly").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["events"].as_u64().unwrap())
        .sum();
    assert_eq!(time_like_sum, events, "every event has a month");
    let makes = ok_json("/api/v1/stats/makes?min_count=20").await;
    assert!(makes["items"].as_array().unwrap().iter().all(|r| r["events"].as_u64().unwrap() >= 20));
    for path in ["findings", "occurrences"] {
        let v = ok_json(&format!("/api/v1/stats/{path}?limit=5")).await;
        let rows = v["items"].as_array().unwrap();
        assert!(!rows.is_empty() && rows.len() <= 5, "{path}: {v}");
    }
}

#[tokio::test]
async fn yearly_statistics_equal_the_listing_filtered_by_year() {
    let yearly = ok_json("/api/v1/stats/yearly?state=CA").await;
    let rows = yearly["items"].as_array().unwrap();
    assert!(rows.len() > 3);
    for row in rows.iter().take(8) {
        let year = row["year"].as_i64().unwrap();
        let (items, total) = all_events(&format!("year={year}&state=CA"), 1000).await;
        assert_eq!(row["events"].as_u64().unwrap(), total, "{year}");
        let fatalities: u64 = items.iter().map(|i| i["injuries"]["fatal"].as_u64().unwrap()).sum();
        assert_eq!(row["fatalities"].as_u64().unwrap(), fatalities, "{year}");
        let fatal_events = items.iter().filter(|i| i["injuries"]["fatal"].as_u64().unwrap() > 0).count() as u64;
        assert_eq!(row["fatal_events"].as_u64().unwrap(), fatal_events, "{year}");
    }
}

#[tokio::test]
async fn exports_stream_every_filtered_event() {
    for query in ["", "highest_injury=fatal", "q=engine&weather=VMC"] {
        let total = ok_json(&format!("/api/v1/events?limit=1&{query}")).await["total"].as_u64().unwrap();
        let csv = get(&format!("/api/v1/export/events.csv?{query}")).await;
        assert_eq!(csv.status, StatusCode::OK);
        assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
        assert!(csv.header("content-disposition").unwrap().contains("events.csv"));
        let text = csv.text();
        let mut reader = csv_rows(&text);
        assert_eq!(reader.remove(0)[0], "ev_id");
        assert_eq!(reader.len() as u64, total, "{query}");
        let geo = get(&format!("/api/v1/export/events.geojson?{query}")).await;
        assert_eq!(geo.header("content-type"), Some("application/geo+json"));
        let v = geo.json();
        assert_eq!(v["type"], "FeatureCollection");
        assert_eq!(v["features"].as_array().unwrap().len() as u64, total, "{query}");
    }
}

/// Minimal RFC 4180 reader (quoted fields may hold commas, quotes and newlines).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[tokio::test]
async fn geo_endpoints_answer_geojson_and_grids() {
    let v = ok_json("/api/v1/geo/events?limit=50&highest_injury=fatal").await;
    assert_eq!(v["type"], "FeatureCollection");
    let features = v["features"].as_array().unwrap();
    assert!(!features.is_empty() && features.len() <= 50);
    let first = &features[0];
    let coords = first["geometry"]["coordinates"].as_array().unwrap();
    let (lon, lat) = (coords[0].as_f64().unwrap(), coords[1].as_f64().unwrap());
    assert_eq!(first["properties"]["highest_injury"], "fatal");
    let near = ok_json(&format!("/api/v1/geo/radius?lat={lat}&lon={lon}&km=300")).await;
    let d: Vec<f64> =
        near["features"].as_array().unwrap().iter().map(|f| f["properties"]["distance_km"].as_f64().unwrap()).collect();
    assert!(!d.is_empty() && d[0] < 0.01, "{d:?}");
    assert!(d.windows(2).all(|w| w[0] <= w[1]) && d.iter().all(|x| *x <= 300.0), "{d:?}");
    let grid = ok_json("/api/v1/geo/density?cell=2").await;
    assert_eq!(grid["cell_degrees"], 2.0);
    assert!(!grid["items"].as_array().unwrap().is_empty());
    let clusters = ok_json("/api/v1/geo/clusters?eps_km=100&min_points=3").await;
    assert!(clusters["items"].is_array());
}

#[tokio::test]
async fn openapi_documents_every_route_and_the_docs_page_is_csp_clean() {
    let doc = ok_json("/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let routed: BTreeSet<String> = ntsb_server::route_paths().into_iter().map(String::from).collect();
    assert_eq!(documented, routed);
    for (path, item) in doc["paths"].as_object().unwrap() {
        // Accounts and administration are exercised in tests/access.rs.
        if path.starts_with("/api/v1/auth/") || path.starts_with("/api/v1/admin/") {
            continue;
        }
        // The live streams (a WebSocket upgrade answers 101) are exercised in tests/stream.rs.
        if path.starts_with("/api/v1/stream") {
            continue;
        }
        // POST routes (ML scoring) are exercised in tests/ml.rs.
        if item.get("get").is_none() {
            assert!(item["post"]["responses"]["200"].is_object(), "{path}");
            continue;
        }
        let op = &item["get"];
        assert!(op["responses"]["200"].is_object(), "{path}");
        assert!(op["summary"].is_string(), "{path}");
        // Every documented route answers (not 404/405) with its parameters' examples.
        let uri = path.replace("{ev_id}", "20990101X00001");
        let uri = if path.ends_with("/radius") {
            format!("{uri}?lat=40&lon=-100&km=100")
        } else if path.ends_with("/search") {
            format!("{uri}?q=engine")
        } else {
            uri
        };
        let a = get(&uri).await;
        assert!(a.status == StatusCode::OK || path.contains("{ev_id}"), "{uri}: {}", a.status);
    }
    let events_params: Vec<&str> = doc["paths"]["/api/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    // The listing's public parameters, as clients use them.
    let public = [
        "from",
        "to",
        "year",
        "state",
        "country",
        "highest_injury",
        "damage",
        "make",
        "model",
        "category",
        "far_part",
        "phase",
        "weather",
        "event_type",
        "has_narrative",
        "bbox",
        "q",
        "sort",
        "limit",
        "cursor",
    ];
    assert_eq!(events_params, public);
    // The documented listing item has exactly the fields the API sends.
    let schema = &doc["components"]["schemas"]["EventSummary"]["properties"];
    let documented: BTreeSet<&str> = schema.as_object().unwrap().keys().map(String::as_str).collect();
    let sample = ok_json("/api/v1/events?limit=1").await;
    let sent: BTreeSet<&str> = sample["items"][0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(documented, sent);
    let page = get("/docs").await;
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let html = page.text();
    assert!(html.contains("<script src=\"/docs/app.js\""));
    assert_eq!(html.matches("<script").count(), 1, "no inline script");
    assert!(!html.contains("style=") && !html.contains("<style"), "no inline style");
    // Each problem's `type` points at an anchor that exists on the page.
    for (uri, method) in [
        ("/api/v1/nothing-here", Method::GET),
        ("/api/v1/events?limit=nope", Method::GET),
        ("/api/v1/events", Method::DELETE),
    ] {
        let problem = request(method, uri, &[]).await.json();
        let anchor = problem["type"].as_str().and_then(|t| t.strip_prefix("/docs#"));
        let anchor = anchor.unwrap_or_else(|| panic!("{uri}: no /docs# type in {problem}"));
        assert!(html.contains(&format!("id=\"{anchor}\"")), "no anchor {anchor} for {uri}");
    }
    let js = get("/docs/app.js").await;
    assert!(js.header("content-type").unwrap().starts_with("text/javascript"));
    assert!(js.text().contains("/openapi.json") && !js.text().contains("innerHTML"));
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let a = get("/api/v1/nothing-here").await;
    assert_problem(&a, 404, "not_found");
    assert_eq!(a.json()["instance"], "/api/v1/nothing-here");
    let b = request(Method::DELETE, "/api/v1/events", &[]).await;
    assert_problem(&b, 405, "method_not_allowed");
    assert!(b.header("allow").unwrap().contains("GET"));
    let c = request(Method::HEAD, "/health", &[]).await;
    assert_eq!(c.status, StatusCode::OK);
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let a = request(Method::GET, "/api/v1/events?limit=200", &[("accept-encoding", "gzip")]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header("content-encoding"), Some("gzip"));
}

/// A cached answer is sent gzipped to a client that accepts gzip, once compressed
/// and kept (the compression layer does not compress it again), and unpacks to the
/// plain answer; a client that does not accept gzip gets the plain body.
#[tokio::test]
async fn cached_answers_are_sent_gzipped_to_clients_that_accept_it() {
    use std::io::Read;
    let uri = "/api/v1/events?limit=200&sort=date";
    let plain = get(uri).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.header("content-encoding"), None);
    for _ in 0..2 {
        let packed = request(Method::GET, uri, &[("accept-encoding", "gzip, br")]).await;
        assert_eq!(packed.status, StatusCode::OK);
        assert_eq!(packed.header("content-encoding"), Some("gzip"));
        assert_eq!(packed.header("vary"), Some("accept-encoding"));
        assert_eq!(packed.header("etag"), plain.header("etag"));
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed.body[..]).read_to_end(&mut unpacked).expect("one gzip layer");
        assert_eq!(unpacked, plain.body);
    }
    let refused = request(Method::GET, uri, &[("accept-encoding", "gzip;q=0")]).await;
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(refused.body, plain.body);
}
