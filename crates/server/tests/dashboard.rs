//! The dashboard in process: every page over a temporary SQLite store loaded
//! with the synthetic demo sample plus one event with hostile text, driven
//! with `oneshot` requests through the real router. Each page's figures are
//! compared with the API's JSON for the same filter; hostile text must come
//! out as text; every page must carry the CSP and point nowhere else.

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
        let (state, _key) = support::authenticated(AppState::from_sqlite(store.clone(), Arc::new(index)), store);
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
