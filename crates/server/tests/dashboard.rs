//! The dashboard in process: every page over a temporary SQLite store loaded
//! with the synthetic demo sample plus one event with hostile text, driven
//! with `oneshot` requests through the real router. Each page's figures are
//! compared with the API's JSON for the same filter; hostile text must come
//! out as text; every page must carry the CSP and point nowhere else.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use ntsb_load::{LoadOptions, Loader, NoProgress};
use ntsb_model::SourceKind;
use ntsb_model::records::{EventRecord, EventRef, NarrativeRecord, Record, SourcedRecord};
use ntsb_search::SearchIndex;
use ntsb_server::{AppState, ServerOptions};
use ntsb_store::Store;
use ntsb_store::sqlite::SqliteStore;
use serde_json::Value;
use tower::ServiceExt;

mod support;

/// The event whose every text field is hostile.
const HOSTILE: &str = "20261130X99999";
/// A word only the hostile narrative holds.
const HOSTILE_WORD: &str = "zanzibarquux";
const HOSTILE_TEXT: &str = "<script>alert(1)</script> \"><img src=x onerror=alert(2)> \u{202E}reversed\u{7}bell";

struct Fixture {
    _dir: tempfile::TempDir,
    state: AppState,
}

fn hostile_records() -> Vec<SourcedRecord> {
    let event = Record::Event(EventRecord {
        ev_id: Some(HOSTILE.into()),
        ntsb_no: Some("HOST99".into()),
        event_type: Some("accident".into()),
        event_date: Some("2026-11-30".into()),
        city: Some(format!("City {HOSTILE_TEXT}")),
        state: Some("CA".into()),
        country: Some("United States".into()),
        latitude: Some(36.7),
        longitude: Some(-119.8),
        highest_injury: Some("fatal".into()),
        inj_fatal: Some(1),
        ..Default::default()
    });
    let text = Record::Narrative(NarrativeRecord {
        event: EventRef::EvId(HOSTILE.into()),
        aircraft_key: 0,
        narrative: Some(format!("The pilot reported {HOSTILE_WORD}. {HOSTILE_TEXT}")),
        probable_cause: Some(format!("Cause {HOSTILE_TEXT}")),
        ..Default::default()
    });
    vec![SourcedRecord { line: 1, record: event }, SourcedRecord { line: 2, record: text }]
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("ntsb.sqlite")).unwrap());
        store.migrate().unwrap();
        let index = SearchIndex::open_or_create(&dir.path().join("index")).unwrap();
        let loader = Loader::new(store.as_ref(), Some(&index), LoadOptions::new(dir.path().join("rejects")));
        let records = ntsb_ingest::demo::generate(11, 800).chain(hostile_records());
        loader.load_records("demo sample", SourceKind::Demo, records, &mut NoProgress).unwrap();
        let (state, _key) =
            support::authenticated(AppState::from_sqlite(store.clone(), Arc::new(index)), store.clone());
        // The live feed (not started: the live page reads the change log itself, and its tickets are the feed's).
        let feed = ntsb_feed::Feed::new(store.clone(), store, ntsb_feed::FeedConfig::default()).unwrap();
        let state = state.with_live(ntsb_server::Live::new(feed, ntsb_server::LiveOptions::default()));
        Fixture { state, _dir: dir }
    })
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn get_with(uri: &str, opts: &ServerOptions) -> Answer {
    let app = ntsb_server::router_with(fixture().state.clone(), opts).unwrap();
    let res = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = String::from_utf8(to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
    Answer { status, headers, body }
}

/// A GET by the fixture's administrator, signed in to the dashboard (the session cookie).
async fn get_signed_in(uri: &str) -> Answer {
    send(Request::get(uri).header("cookie", format!("ntsb_session={}", session())).body(Body::empty()).unwrap(), None)
        .await
}

/// `req` through the dashboard's router, on `state` (the fixture's by default).
async fn send(req: Request<Body>, state: Option<AppState>) -> Answer {
    let state = state.unwrap_or_else(|| fixture().state.clone());
    let app = ntsb_server::router_with(state, &ServerOptions::default()).unwrap();
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = String::from_utf8(to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
    Answer { status, headers, body }
}

/// A dashboard session of the fixture's administrator (signed in once, on a thread of its own).
fn session() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let auth = fixture().state.auth.clone().unwrap();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(auth.sign_in_web("admin@example.org", "blue-Heron-7-ladder", None, "192.0.2.1")).unwrap().token
        })
        .join()
        .unwrap()
    })
}

/// An anonymous GET (pages and the statistics are public).
async fn get(uri: &str) -> Answer {
    get_with(uri, &ServerOptions::default()).await
}

/// A page that must answer 200 with HTML.
async fn page(uri: &str) -> String {
    let a = get(uri).await;
    assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.body);
    assert_eq!(a.header("content-type"), "text/html; charset=utf-8", "{uri}");
    a.body
}

async fn api(uri: &str) -> Value {
    let a = get(uri).await;
    assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.body);
    a.json()
}

/// The `value` of the `<data>` inside the element with `id`.
fn figure(html: &str, id: &str) -> String {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let rest = &html[at..];
    let v = rest.find("value=\"").unwrap() + "value=\"".len();
    rest[v..v + rest[v..].find('"').unwrap()].to_string()
}

/// The rows of a page's table downloaded as CSV (header row dropped; no quoted commas in these tables).
async fn csv(path: &str, filter: &str, table: &str) -> Vec<Vec<String>> {
    let sep = if path.contains('?') { "&" } else { "?" };
    let uri = format!("{path}{sep}{filter}{}format=csv&table={table}", if filter.is_empty() { "" } else { "&" });
    let a = get(&uri).await;
    assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.body);
    assert_eq!(a.header("content-type"), "text/csv; charset=utf-8", "{uri}");
    let mut rows = parse_csv(&a.body);
    rows.remove(0);
    rows
}

/// Rows of RFC 4180 CSV.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
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

/// Asserts that a page table's (key, events, fatal events) rows equal the API's breakdown rows.
async fn same_breakdown(path: &str, filter: &str, table: &str, api_path: &str, key: &str) {
    let rows = csv(path, filter, table).await;
    let sep = if api_path.contains('?') { "&" } else { "?" };
    let items = api(&format!("{api_path}{sep}{filter}")).await["items"].as_array().unwrap().clone();
    assert_eq!(rows.len(), items.len(), "{path} {table} vs {api_path} ({filter})");
    for (row, item) in rows.iter().zip(&items) {
        let api_key = match &item[key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert!(row[0] == api_key || row[0].starts_with(&api_key), "{path} {table}: {row:?} vs {item}");
        assert_eq!(row[1], item["events"].to_string(), "{path} {table}: {row:?} vs {item}");
        assert_eq!(row[2], item["fatal_events"].to_string(), "{path} {table}: {row:?} vs {item}");
    }
}

const FILTERS: [&str; 3] = ["", "state=CA", "highest_injury=fatal&from=2010-01-01"];

#[tokio::test]
async fn overview_figures_and_tables_equal_the_apis_for_the_same_filter() {
    for filter in FILTERS {
        let html = page(&format!("/?{filter}")).await;
        let summary = api(&format!("/api/v1/stats/summary?{filter}")).await;
        for (id, field) in [
            ("fig-events", "events"),
            ("fig-accidents", "accidents"),
            ("fig-fatal-events", "fatal_events"),
            ("fig-fatalities", "fatalities"),
        ] {
            assert_eq!(figure(&html, id), summary[field].to_string(), "{id} with {filter:?}");
        }
        assert!(summary["events"].as_u64().unwrap() > 0, "{filter}: the fixture matches");
        same_breakdown("/", filter, "years", "/api/v1/stats/yearly", "year").await;
        same_breakdown("/", filter, "states", "/api/v1/stats/states?limit=10", "state").await;
        same_breakdown("/", filter, "makes", "/api/v1/stats/makes?limit=10", "make").await;
        same_breakdown("/", filter, "phases", "/api/v1/stats/phases?limit=10", "phase").await;
        let latest = csv("/", filter, "latest").await;
        let events = api(&format!("/api/v1/events?limit=10&{filter}")).await;
        let ids: Vec<&str> = events["items"].as_array().unwrap().iter().map(|e| e["ev_id"].as_str().unwrap()).collect();
        assert_eq!(latest.iter().map(|r| r[1].as_str()).collect::<Vec<_>>(), ids, "{filter}");
    }
}

#[tokio::test]
async fn trends_aircraft_causes_and_map_equal_the_api() {
    for filter in FILTERS {
        page(&format!("/trends?{filter}")).await;
        same_breakdown("/trends", filter, "years", "/api/v1/stats/yearly", "year").await;
        same_breakdown("/trends", filter, "decades", "/api/v1/stats/decades", "decade").await;
        same_breakdown("/trends", filter, "seasons", "/api/v1/stats/seasonal", "season").await;
        // Months and days are labelled by name on the page: compare the counts in order.
        for (table, api_path) in [("months", "/api/v1/stats/monthly"), ("days", "/api/v1/stats/day-of-week")] {
            let rows = csv("/trends", filter, table).await;
            let items = api(&format!("{api_path}?{filter}")).await["items"].as_array().unwrap().clone();
            let page_counts: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
            let api_counts: Vec<String> = items.iter().map(|i| i["events"].to_string()).collect();
            assert_eq!(page_counts, api_counts, "{table} {filter}");
        }

        page(&format!("/aircraft?min_count=2&{filter}")).await;
        let f = if filter.is_empty() { "min_count=2".to_string() } else { format!("min_count=2&{filter}") };
        same_breakdown("/aircraft", &f, "makes", "/api/v1/stats/makes?limit=25", "make").await;
        same_breakdown("/aircraft", &f, "models", "/api/v1/stats/make-models?limit=25", "make").await;
        same_breakdown("/aircraft", &f, "categories", "/api/v1/stats/categories?limit=25", "category").await;
        same_breakdown("/aircraft", &f, "engines", "/api/v1/stats/engines?limit=25", "engines").await;
        same_breakdown("/aircraft", &f, "amateur", "/api/v1/stats/amateur-built?limit=25", "amateur_built").await;

        page(&format!("/causes?{filter}")).await;
        let findings = csv("/causes", filter, "findings").await;
        let items =
            api(&format!("/api/v1/stats/findings?limit=25&{filter}")).await["items"].as_array().unwrap().clone();
        assert_eq!(findings.len(), items.len());
        for (row, item) in findings.iter().zip(&items) {
            assert_eq!((row[1].as_str(), row[2].clone()), (item["code"].as_str().unwrap(), item["events"].to_string()));
            assert_eq!(row[3], item["cited_as_cause"].to_string());
        }
        let occurrences = csv("/causes", filter, "occurrences").await;
        let items =
            api(&format!("/api/v1/stats/occurrences?limit=25&{filter}")).await["items"].as_array().unwrap().clone();
        assert_eq!(occurrences.len(), items.len());
        for (row, item) in occurrences.iter().zip(&items) {
            assert_eq!((row[1].as_str(), row[2].clone()), (item["code"].as_str().unwrap(), item["events"].to_string()));
        }

        let map = page(&format!("/map?{filter}")).await;
        same_breakdown("/map", filter, "states", "/api/v1/stats/states", "state").await;
        same_breakdown("/map", filter, "countries", "/api/v1/stats/countries", "country").await;
        let points = csv("/map", filter, "points").await;
        let geo = api(&format!("/api/v1/geo/events?limit=1000&{filter}")).await;
        assert_eq!(points.len(), geo["features"].as_array().unwrap().len(), "{filter}");
        assert!(map.contains("id=\"map-us\"") && map.contains("id=\"map-world\""));
        assert!(map.matches("<circle").count() >= points.len().min(1), "points are drawn");
    }
    // The fatal-rate colouring is a view of its own.
    page("/map?metric=fatal_rate").await;
    let bad = get("/map?metric=colour").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn search_shows_the_apis_hits_with_highlights_and_pages() {
    for filter in ["", "state=CA"] {
        let html = page(&format!("/search?q=engine&{filter}")).await;
        let hits = api(&format!("/api/v1/search?q=engine&limit=20&{filter}")).await;
        assert_eq!(figure(&html, "result-count"), hits["total"].to_string(), "{filter}");
        let rows = csv("/search?q=engine", filter, "results").await;
        let ids: Vec<&str> = hits["items"].as_array().unwrap().iter().map(|h| h["ev_id"].as_str().unwrap()).collect();
        assert_eq!(rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ids, "{filter}");
        assert!(!ids.is_empty());
        assert!(html.contains("<mark>"), "matches are highlighted");
        assert!(html.contains(&format!("href=\"/events/{}\"", ids[0])), "results link to their event");
    }
    let first = api("/api/v1/search?q=engine&limit=20").await;
    if first["total"].as_u64().unwrap() > 20 {
        let html = page("/search?q=engine&offset=20").await;
        let second = api("/api/v1/search?q=engine&limit=20&offset=20").await;
        let id = second["items"][0]["ev_id"].as_str().unwrap();
        assert!(html.contains(&format!("/events/{id}")), "page two shows the API's page two");
        assert!(html.contains("rel=\"prev\""));
    }
    // No text yet: the form alone.
    let empty = page("/search").await;
    assert!(!empty.contains("result-count"));
}

#[tokio::test]
async fn the_event_page_shows_what_the_api_holds_and_unknown_events_get_a_404_page() {
    let events = api("/api/v1/events?limit=5&has_narrative=true").await;
    for e in events["items"].as_array().unwrap() {
        let id = e["ev_id"].as_str().unwrap();
        let detail = api(&format!("/api/v1/events/{id}")).await;
        let html = page(&format!("/events/{id}")).await;
        assert!(html.contains(detail["ntsb_no"].as_str().unwrap()), "{id}");
        for a in detail["aircraft"].as_array().unwrap() {
            if let Some(reg) = a["registration"].as_str() {
                assert!(html.contains(reg), "{id}: registration {reg}");
            }
        }
        for f in detail["findings"].as_array().unwrap() {
            if let Some(code) = f["code"].as_str() {
                assert!(html.contains(code), "{id}: finding {code}");
            }
        }
        let narrative = detail["narrative"].as_str().unwrap_or("");
        let first_words: String = narrative.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
        if !first_words.contains(['&', '<', '>', '"', '\'']) {
            assert!(html.contains(&first_words), "{id}: narrative {first_words:?}");
        }
    }
    for missing in ["/events/20990101X00001", "/events/no%20such%3Cb%3E"] {
        let a = get(missing).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(a.header("content-type"), "text/html; charset=utf-8");
        assert!(a.body.contains("<h1>Not found</h1>"), "{}", a.body);
        assert!(!a.body.contains("<b>"), "the id is escaped");
    }
    // A bad filter is a 400 page naming the parameter; the API's own 404 stays a problem document.
    let bad = get("/?year=nineteen").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("<code>year</code>"), "{}", bad.body);
    let api_404 = get("/api/v1/nothing").await;
    assert_eq!(api_404.header("content-type"), "application/problem+json");
}

#[tokio::test]
async fn hostile_text_is_shown_as_text_on_every_page_that_shows_it() {
    let pages = [
        format!("/events/{HOSTILE}"),
        format!("/search?q={HOSTILE_WORD}"),
        "/".to_string(),
        "/?state=CA".to_string(),
        "/map".to_string(),
    ];
    for uri in &pages {
        let html = page(uri).await;
        assert!(html.contains("reversed"), "{uri} shows the hostile event");
        assert!(!html.contains("<script>alert"), "{uri}");
        assert!(!html.contains("<img src=x"), "{uri}");
        assert!(!html.contains('\u{202E}') && !html.contains('\u{7}'), "{uri}: control characters replaced");
        assert!(html.contains("&lt;script&gt;") || html.contains("&lt;img"), "{uri}: shown as text");
    }
    let event = page(&format!("/events/{HOSTILE}")).await;
    assert!(event.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"), "attribute breakout is text");
    // The CSV of a view quotes it as data.
    let rows = get("/?format=csv&table=latest").await;
    assert!(rows.body.contains(HOSTILE));
}

#[tokio::test]
async fn every_page_has_the_strict_csp_and_refers_only_to_this_server() {
    let uris = [
        "/".to_string(),
        "/?state=TX&make=CESSNA".to_string(),
        "/trends".to_string(),
        "/map".to_string(),
        "/aircraft".to_string(),
        "/causes".to_string(),
        "/search?q=engine".to_string(),
        format!("/events/{HOSTILE}"),
        "/events/20990101X00001".to_string(),
        "/account".to_string(),
        "/assets/dashboard.css".to_string(),
    ];
    for uri in &uris {
        let a = get(uri).await;
        let csp = a.header("content-security-policy");
        assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"), "{uri}: {csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{uri}: {csp}");
        assert_eq!(a.header("x-content-type-options"), "nosniff");
        if a.header("content-type").starts_with("text/html") {
            let html = &a.body;
            // Scripts only from files of ours (the enhancement script, the challenge's).
            for (at, _) in html.match_indices("<script") {
                let tag = &html[at..at + html[at..].find('>').unwrap()];
                assert!(tag.contains(" src=\"/assets/"), "{uri}: an inline script: {tag}");
                assert!(html[at..].starts_with(&format!("{tag}></script>")), "{uri}: a script with a body: {tag}");
            }
            assert!(!html.contains(" style="), "{uri}: no inline style");
            for attr in ["href=\"", "src=\"", "action=\""] {
                for (at, _) in html.match_indices(attr) {
                    let value = &html[at + attr.len()..];
                    let value = &value[..value.find('"').unwrap()];
                    let local = (value.starts_with('/') && !value.starts_with("//")) || value.starts_with('#');
                    assert!(local, "{uri}: {attr}{value}\" leads elsewhere");
                }
            }
            assert!(!html.contains("http://") && !html.contains("https://"), "{uri}: an absolute URL");
        }
    }
    // An anonymous page is asked for again each time (its header would say "Sign in" to
    // someone who has since signed in); the stylesheet and scripts keep their minute.
    let overview = get("/").await;
    assert_eq!(overview.header("cache-control"), "no-cache");
    assert!(overview.header("vary").to_ascii_lowercase().contains("cookie"), "{:?}", overview.headers);
    let js = get("/assets/dashboard.js").await;
    assert_eq!(js.header("content-type"), "text/javascript; charset=utf-8");
    assert!(js.header("cache-control").contains("max-age"), "{:?}", js.headers);
    let css = get("/assets/dashboard.css").await;
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert!(!css.body.contains("url(") && !css.body.contains("@import"), "the stylesheet loads nothing");
}

#[tokio::test]
async fn pages_keep_the_filter_in_links_and_forms() {
    let html = page("/?state=CA&make=CESSNA&year=").await;
    // Links to the other pages and downloads keep the view's filter.
    assert!(html.contains("href=\"/trends?state=CA&amp;make=CESSNA\""), "{html}");
    assert!(html.contains("href=\"/api/v1/export/events.csv?state=CA&amp;make=CESSNA\""));
    assert!(html.contains("href=\"/?state=CA&amp;make=CESSNA&amp;format=csv&amp;table=states\""));
    // The form is prefilled and labelled.
    assert!(
        html.contains("<label for=\"f-state\">")
            && html.contains("id=\"f-state\" name=\"state\" type=\"text\" value=\"CA\"")
    );
    assert!(html.contains("<option value=\"fatal\">"), "vocabularies are offered");
    // An unknown table is refused by name.
    let bad = get("/?format=csv&table=nope").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("<code>table</code>"));
}

#[tokio::test]
async fn without_the_dashboard_the_root_is_the_apis_404() {
    let opts = ServerOptions { dashboard: false, ..ServerOptions::default() };
    let a = get_with("/", &opts).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.header("content-type"), "application/problem+json");
    let api = get_with("/api/v1/stats/summary", &opts).await;
    assert_eq!(api.status, StatusCode::OK);
    // The ML tier serves no pages either.
    let ml = ServerOptions { role: ntsb_server::Role::Ml, ..ServerOptions::default() };
    assert_eq!(get_with("/trends", &ml).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_are_cached_until_the_data_changes() {
    let uri = "/causes?state=TX";
    let first = get(uri).await;
    let second = get(uri).await;
    assert_eq!(first.body, second.body);
    assert_eq!(second.header("x-cache"), "hit");
    assert!(!second.header("etag").is_empty());
}

/// Events per (phase, occurrence) and per occurrence counted here from the API's
/// event documents: what the heat map must show.
async fn heat_from_the_api(filter: &str) -> (BTreeMap<(String, String), u64>, BTreeMap<String, u64>) {
    let mut cells = BTreeMap::new();
    let mut totals = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = api(&format!("/api/v1/events?limit=500&{filter}{after}")).await;
        for e in page["items"].as_array().unwrap() {
            let detail = api(&format!("/api/v1/events/{}", e["ev_id"].as_str().unwrap())).await;
            let mut seen = BTreeSet::new();
            let mut kinds = BTreeSet::new();
            for o in detail["occurrences"].as_array().unwrap() {
                let code = o["code"].as_str().unwrap_or("");
                if code.is_empty() {
                    continue;
                }
                let kind = o["meaning"].as_str().filter(|m| !m.is_empty()).unwrap_or(code).to_string();
                let phase = o["phase"].as_str().unwrap_or("unknown").replace('_', " ");
                seen.insert((kind.clone(), phase));
                kinds.insert(kind);
            }
            for key in seen {
                *cells.entry(key).or_insert(0) += 1;
            }
            for kind in kinds {
                *totals.entry(kind).or_insert(0) += 1;
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    (cells, totals)
}

#[tokio::test]
async fn the_phase_occurrence_heat_map_shows_what_the_event_documents_hold() {
    for filter in FILTERS {
        let html = page(&format!("/causes?{filter}")).await;
        assert!(html.contains("id=\"chart-phase-occurrences\""), "{filter}: the heat map is drawn");
        assert!(html.contains("id=\"table-phase-occurrences\""), "{filter}: with its table");
        let rows = csv("/causes", filter, "phase-occurrences").await;
        assert!(!rows.is_empty(), "{filter}: the fixture has occurrences");
        let (cells, totals) = heat_from_the_api(filter).await;
        let mut shown = BTreeSet::new();
        for row in &rows {
            let (kind, phase) = (row[0].clone(), row[1].clone());
            assert_eq!(row[2], cells[&(kind.clone(), phase.clone())].to_string(), "{filter}: {row:?}");
            assert_eq!(row[3], totals[&kind].to_string(), "{filter}: {row:?}");
            shown.insert(kind);
        }
        // Every cell of a shown occurrence is there, and the shown ones are the most frequent.
        let expected_cells = cells.keys().filter(|(k, _)| shown.contains(k)).count();
        assert_eq!(rows.len(), expected_cells, "{filter}");
        assert!(shown.len() <= 15);
        let least_shown = shown.iter().map(|k| totals[k]).min().unwrap();
        assert!(totals.iter().filter(|(k, _)| !shown.contains(*k)).all(|(_, n)| *n <= least_shown), "{filter}");
        // The figures are the store's own statistic (one home, both backends: crates/store tests).
        let filter_params = ntsb_server::params::event_filter_of(filter).unwrap();
        let store = fixture().state.queries.phase_occurrences(&filter_params, 15).unwrap();
        assert_eq!(store.cells.len(), rows.len());
    }
}

#[tokio::test]
async fn trends_compare_two_filter_sets_with_the_apis_figures_and_keep_both_in_the_url() {
    let (a, b) = ("state=CA", "state=TX");
    let html = page("/trends?state=CA&b.state=TX").await;
    assert!(html.contains("id=\"chart-compare-rate\"") && html.contains("id=\"chart-compare-events\""));
    assert!(html.contains("name=\"b.state\" type=\"text\" value=\"TX\""), "the second form shows set B");
    assert!(html.contains("<input type=\"hidden\" name=\"b.state\" value=\"TX\">"), "the first form keeps set B");
    assert!(html.contains("<input type=\"hidden\" name=\"state\" value=\"CA\">"), "the second form keeps set A");
    let totals = csv("/trends?state=CA&b.state=TX", "", "compare-totals").await;
    let (sa, sb) = (api(&format!("/api/v1/stats/summary?{a}")).await, api(&format!("/api/v1/stats/summary?{b}")).await);
    assert_eq!(totals[0], ["events", &sa["events"].to_string(), &sb["events"].to_string()]);
    assert_eq!(totals[1], ["fatal events", &sa["fatal_events"].to_string(), &sb["fatal_events"].to_string()]);
    let years = csv("/trends?state=CA&b.state=TX", "", "compare-years").await;
    for (set, col) in [(a, 1), (b, 5)] {
        let items = api(&format!("/api/v1/stats/yearly?{set}")).await["items"].as_array().unwrap().clone();
        for item in &items {
            let year = item["year"].to_string();
            let row = years.iter().find(|r| r[0] == year).unwrap_or_else(|| panic!("{set}: year {year}"));
            assert_eq!(row[col], item["events"].to_string(), "{set} {year}");
            let six = |v: &Value| format!("{:.6}", v.as_f64().unwrap());
            assert_eq!(row[col + 1], six(&item["fatal_rate"]), "{set} {year}");
            assert_eq!(row[col + 2], six(&item["fatal_rate_ci95"][0]), "{set} {year}");
        }
        let listed = years.iter().filter(|r| r[col] != "0").count();
        assert_eq!(listed, items.len(), "{set}: no other year has events");
    }
    // Opened with an empty second set (all events), closed again; a bad B value is named as such.
    let open = page("/trends?compare=on").await;
    assert!(open.contains("id=\"set-b\">all events<"), "{open}");
    assert!(html.contains("id=\"stop-compare\" href=\"/trends?state=CA\""));
    let plain = page("/trends?state=CA").await;
    assert!(plain.contains("href=\"/trends?state=CA&amp;compare=on\""));
    let bad = get("/trends?b.year=soon").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("<code>b.year</code>"), "{}", bad.body);
    // Hostile text in a filter value is shown as text.
    let hostile = get("/trends?b.make=%3Cscript%3Ex%3C%2Fscript%3E").await;
    assert_eq!(hostile.status, StatusCode::OK, "{}", hostile.body);
    assert!(!hostile.body.contains("<script>x") && hostile.body.contains("&lt;script&gt;x"));
}

#[tokio::test]
async fn the_us_map_zooms_and_pans_by_links_and_its_points_lead_to_their_events() {
    let html = page("/map?state=CA&zoom=2&cx=100&cy=300").await;
    // The window is kept inside the frame: centre x moved to a quarter of the width.
    assert!(html.contains("viewBox=\"0 147.5 487.5 305\""), "{}", &html[html.find("id=\"map-us\"").unwrap()..][..300]);
    assert!(html.contains("id=\"zoom-in\" href=\"/map?state=CA&amp;zoom=4&amp;cx=243.8&amp;cy=300\""), "filters kept");
    assert!(html.contains("id=\"zoom-out\" href=\"/map?state=CA\""), "zoom 1 is the plain view");
    assert!(html.contains("class=\"zoom zoom-off\" id=\"pan-west\""), "at the west edge already");
    assert!(html.contains("<input type=\"hidden\" name=\"zoom\" value=\"2\">"), "the filter form keeps the view");
    let whole = page("/map").await;
    assert!(whole.contains("id=\"map-us\" viewBox=\"0 0 975 610\""));
    assert!(whole.contains("class=\"pt\" href=\"/events/"), "points link to their events");
    assert!(whole.contains("id=\"map-popup\" hidden"));
    for bad in ["/map?zoom=3", "/map?zoom=2&cx=-1", "/map?cy=nan"] {
        let a = get(bad).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn the_event_page_scores_the_event_for_signed_in_visitors_as_the_api_does() {
    let id = HOSTILE;
    // Anonymous: no score. Signed in without a model: says so.
    assert!(!page(&format!("/events/{id}")).await.contains("id=\"score\""));
    let without = get_signed_in(&format!("/events/{id}")).await;
    assert_eq!(without.status, StatusCode::OK, "{}", without.body);
    assert!(without.body.contains("id=\"score\"") && without.body.contains("id=\"no-model\""));
    // With a trained `fatal` model: the probability and contributions of the API's predict.
    let store = fixture().state.training.clone().unwrap();
    let rows = store.training_rows(&ntsb_store::TrainingFilter { accidents_only: false }).unwrap();
    let kind = ntsb_ml::ModelKind::Fatal;
    let ds = ntsb_ml::Dataset::from_rows(kind, &rows, None);
    let model = ntsb_ml::pipeline::train_model(&ds, &ntsb_ml::pipeline::Options::quick(kind, 1), None).unwrap();
    let registry = ntsb_ml::Registry::empty();
    registry.insert(model);
    let state = fixture().state.clone().with_models(Arc::new(registry));
    let cookie = format!("ntsb_session={}", session());
    let req = Request::get(format!("/events/{id}")).header("cookie", &cookie).body(Body::empty()).unwrap();
    let with = send(req, Some(state.clone())).await;
    assert_eq!(with.status, StatusCode::OK, "{}", with.body);
    assert!(with.body.contains("id=\"contributions-chart\""), "the contributions as a bar chart");
    let body = serde_json::json!({ "model": "fatal", "ev_id": id }).to_string();
    let req = Request::post("/api/v1/ml/predict")
        .header("content-type", "application/json")
        .header("x-api-key", &key())
        .body(Body::from(body))
        .unwrap();
    let predicted = send(req, Some(state)).await;
    assert_eq!(predicted.status, StatusCode::OK, "{}", predicted.body);
    let p = predicted.json()["probability"].as_f64().unwrap();
    assert_eq!(figure(&with.body, "probability"), format!("{p:.6}"), "the page's probability is the API's");
}

/// An API key of the fixture's administrator.
fn key() -> String {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        let auth = fixture().state.auth.clone().unwrap();
        support::key_for(&auth, "scorer@example.org", ntsb_auth::Role::Free)
    })
    .clone()
}

#[tokio::test]
async fn the_live_page_lists_the_latest_matching_changes_and_hands_out_stream_tickets() {
    // Signed-in visitors only: an anonymous one is sent to sign in.
    let anonymous = get("/live").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    let store = fixture().state.store.clone();
    let head = store.change_log_head().unwrap();
    assert!(head > 0, "the fixture's load is in the change log");
    let html = get_signed_in("/live").await;
    assert_eq!(html.status, StatusCode::OK, "{}", html.body);
    assert!(html.body.contains(&format!("data-since=\"{head}\"")), "the stream resumes where the list was read");
    assert!(html.body.contains("data-stream=\"/api/v1/stream/events\""));
    assert!(html.body.contains(&format!("<tr data-seq=\"{head}\">")), "the newest change is listed first");
    assert_eq!(html.header("cache-control"), "no-store");
    // Filtered: only changes to matching events, and the stream carries the filter.
    let ca = get_signed_in("/live?state=CA").await;
    assert!(ca.body.contains("data-stream=\"/api/v1/stream/events?state=CA\""));
    let listed: Vec<&str> =
        ca.body.match_indices("href=\"/events/").map(|(at, _)| &ca.body[at + 14..at + 28]).collect();
    assert!(!listed.is_empty());
    for id in listed {
        let detail = api(&format!("/api/v1/events/{id}")).await;
        assert_eq!(detail["state"], "CA", "{id}");
    }
    assert!(ca.body.contains(HOSTILE) && !ca.body.contains("<script>alert"), "the hostile event is listed as text");
    assert_eq!(get_signed_in("/live?q=engine").await.status, StatusCode::BAD_REQUEST);
    // A stream ticket for the session, CSRF-checked like every form.
    let auth = fixture().state.auth.clone().unwrap();
    let csrf = auth.csrf_for_session(session());
    let ticket = |token: String| {
        Request::post("/live/ticket")
            .header("cookie", format!("ntsb_session={}", session()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={token}")))
            .unwrap()
    };
    let refused = send(ticket("forged".into()), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let issued = send(ticket(csrf), None).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
    let t = issued.json()["ticket"].as_str().unwrap().to_string();
    assert_eq!(t.len(), 64);
    // The ticket opens the stream once (SSE answers with its headers at once).
    let app = ntsb_server::router_with(fixture().state.clone(), &ServerOptions::default()).unwrap();
    let req = Request::get(format!("/api/v1/stream/events?state=CA&ticket={t}")).body(Body::empty()).unwrap();
    let stream = tokio::time::timeout(std::time::Duration::from_secs(30), app.oneshot(req))
        .await
        .expect("the stream answers")
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    drop(stream);
    let again = get(&format!("/api/v1/stream/events?ticket={t}")).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "a ticket opens one stream");
}
