//! End to end over fixture data: `ntsb ingest` the repository's fixtures, start
//! the real `ntsb serve` on a free port, and check every route, every filter and
//! the error paths over plain HTTP.

mod common;

use std::time::Duration;

use common::{get, get_json, request, run_ok, serve, serve_with_env};
use ntsb_store::Store;
use serde_json::Value;

/// Loads the fixtures (AviationData sample, per-table avall CSVs, narratives)
/// into a fresh data directory.
fn loaded() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = ntsb_test_support::repo_root().join("tests/fixtures");
    for sub in ["aviationdata", "avall", "narratives"] {
        run_ok(dir.path(), &["ingest", fixtures.join(sub).to_str().unwrap()]);
    }
    dir
}

fn items(v: &Value) -> &Vec<Value> {
    v["items"].as_array().unwrap_or_else(|| panic!("no items in {v}"))
}

fn str_of<'a>(item: &'a Value, field: &str) -> &'a str {
    item[field].as_str().unwrap_or("")
}

#[test]
fn every_route_filter_and_error_path_answers_over_http() {
    let dir = loaded();
    let mut server = serve(dir.path(), &[], Duration::from_secs(60));
    let port = server.port;

    let all = get_json(port, "/api/v1/events?limit=1000");
    let total = all["total"].as_u64().unwrap();
    assert_eq!(total as usize, items(&all).len());
    assert_eq!(total, 6, "the fixtures' events with a valid id");
    let summary = get_json(port, "/api/v1/stats/summary");
    assert_eq!(summary["events"].as_u64(), Some(total), "summary and listing count the same events");

    // Every filter on its own: 200, a subset of everything, and each item satisfies it.
    type Check = fn(&Value) -> bool;
    let filters: &[(&str, Check)] = &[
        ("state=IL", |i| str_of(i, "state") == "IL"),
        ("country=united%20states", |i| str_of(i, "country").eq_ignore_ascii_case("united states")),
        ("year=2021", |i| str_of(i, "event_date").starts_with("2021")),
        ("from=2019-01-01&to=2021-12-31", |i| ("2019-01-01".."2022-01-01").contains(&str_of(i, "event_date"))),
        ("highest_injury=fatal", |i| str_of(i, "highest_injury") == "fatal"),
        ("event_type=accident", |i| str_of(i, "event_type") == "accident"),
        ("weather=imc", |i| str_of(i, "weather").eq_ignore_ascii_case("imc")),
        ("phase=cruise", |i| str_of(i, "phase").eq_ignore_ascii_case("cruise")),
        ("has_narrative=true", |i| i["has_narrative"] == true),
        ("has_narrative=false", |i| i["has_narrative"] == false),
        ("bbox=-90,39,-89,40", |i| {
            let (lat, lon) = (i["latitude"].as_f64().unwrap_or(99.0), i["longitude"].as_f64().unwrap_or(999.0));
            (39.0..=40.0).contains(&lat) && (-90.0..=-89.0).contains(&lon)
        }),
        ("make=cessna", |_| true),
        ("make=cessna&model=172", |_| true),
        ("category=air", |_| true),
        ("far_part=91", |_| true),
        ("damage=destroyed", |_| true),
        ("q=pilot", |_| true),
    ];
    let mut matched_any = 0;
    for (query, check) in filters {
        let page = get_json(port, &format!("/api/v1/events?limit=1000&{query}"));
        let n = page["total"].as_u64().unwrap();
        assert!(n <= total, "{query}: {n} > {total}");
        assert_eq!(n as usize, items(&page).len(), "{query}");
        for item in items(&page) {
            assert!(check(item), "{query} returned {item}");
        }
        let s = get_json(port, &format!("/api/v1/stats/summary?{query}"));
        assert_eq!(s["events"].as_u64(), Some(n), "{query}: summary agrees with the listing");
        if n > 0 {
            matched_any += 1;
        } else {
            eprintln!("no fixture event matches {query}");
        }
    }
    assert!(matched_any >= 12, "most filters match something in the fixtures ({matched_any})");
    // Combined filters narrow: Cessna 172s, fatal, in Illinois.
    let combined = get_json(port, "/api/v1/events?make=cessna&model=172&highest_injury=fatal&state=IL");
    assert!(combined["total"].as_u64().unwrap() >= 1, "{combined}");

    // Every route of the OpenAPI document answers 200 with plausible arguments.
    let doc = get_json(port, "/openapi.json");
    let some_id = str_of(&items(&all)[0], "ev_id").to_string();
    for path in doc["paths"].as_object().unwrap().keys() {
        let url = match path.as_str() {
            "/api/v1/events/{ev_id}" => format!("/api/v1/events/{some_id}"),
            "/api/v1/search" => "/api/v1/search?q=engine".to_string(),
            "/api/v1/geo/radius" => "/api/v1/geo/radius?lat=39.8&lon=-89.6&km=50".to_string(),
            p if p.starts_with("/api/v1/ml/") || p.starts_with("/api/v1/auth/") || p.starts_with("/api/v1/admin/") => {
                continue; // covered by their own suites
            }
            "/api/v1/stream/tickets" => continue, // a POST, covered by crates/server/tests/stream.rs
            p if p.starts_with("/api/v1/export/") || p.starts_with("/api/v1/stream") => {
                // Exports and the live streams need a user (tests/attacker.rs exports with a key;
                // crates/server/tests/stream.rs streams with one).
                let (status, head, body) = get(port, p).unwrap();
                assert_eq!(status, 401, "GET {p} anonymously\n{head}\n{body}");
                continue;
            }
            p => p.to_string(),
        };
        let (status, head, body) = get(port, &url).unwrap();
        assert_eq!(status, 200, "GET {url}\n{head}\n{body}");
    }

    // Detail: the whole event, 404 for an unknown one.
    let detail = get_json(port, &format!("/api/v1/events/{some_id}"));
    assert_eq!(detail["ev_id"], some_id.as_str());
    let (status, head, body) = get(port, "/api/v1/events/20000101X99999").unwrap();
    assert_eq!(status, 404, "{body}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/problem+json"), "{head}");

    // Error paths: each names its parameter in a 400 problem document.
    let bad: &[(&str, &str)] = &[
        ("/api/v1/events?from=2020-13-01", "from"),
        ("/api/v1/events?to=yesterday", "to"),
        ("/api/v1/events?from=2020-02-01&to=2020-01-01", "to"),
        ("/api/v1/events?year=20x1", "year"),
        ("/api/v1/events?highest_injury=deadly", "highest_injury"),
        ("/api/v1/events?damage=crumpled", "damage"),
        ("/api/v1/events?phase=teleport", "phase"),
        ("/api/v1/events?weather=sunny", "weather"),
        ("/api/v1/events?event_type=party", "event_type"),
        ("/api/v1/events?has_narrative=maybe", "has_narrative"),
        ("/api/v1/events?bbox=1,2,3", "bbox"),
        ("/api/v1/events?limit=1000000", "limit"),
        ("/api/v1/events?limit=-1", "limit"),
        ("/api/v1/events?sort=altitude", "sort"),
        ("/api/v1/events?cursor=not-a-cursor", "cursor"),
        ("/api/v1/events?colour=red", "colour"),
        ("/api/v1/events?state=IL&state=TX", "state"),
        ("/api/v1/stats/makes?min_count=-5", "min_count"),
        ("/api/v1/geo/radius?lat=91&lon=0&km=10", "lat"),
        ("/api/v1/geo/radius?lat=10&lon=0", "km"),
        ("/api/v1/geo/density?cell=0", "cell"),
        ("/api/v1/search", "q"),
    ];
    for (url, parameter) in bad {
        let (status, head, body) = get(port, url).unwrap();
        assert_eq!(status, 400, "GET {url}\n{body}");
        assert!(head.to_ascii_lowercase().contains("application/problem+json"), "GET {url}\n{head}");
        let problem: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["parameter"], *parameter, "GET {url}\n{body}");
        assert!(problem["code"].is_string() && problem["status"] == 400, "{body}");
    }

    // Hostile search text never fails the server.
    for q in
        ["%22unbalanced", "AND+OR+NOT", "title:(", "*", "%F0%9F%9B%A9%EF%B8%8F+%E2%9C%88", "a%5C%22%27%3B--", "((((("]
    {
        let (status, _, body) = get(port, &format!("/api/v1/search?q={q}")).unwrap();
        assert_eq!(status, 200, "q={q}: {body}");
        let (status, _, body) = get(port, &format!("/api/v1/events?q={q}")).unwrap();
        assert_eq!(status, 200, "q={q}: {body}");
    }

    // Caching: the second identical request is a cache hit with the same ETag, and
    // If-None-Match gets 304 with no body.
    let (_, first, _) = get(port, "/api/v1/stats/yearly?state=IL").unwrap();
    let (_, second, _) = get(port, "/api/v1/stats/yearly?state=IL").unwrap();
    let etag = |head: &str| {
        head.lines()
            .find_map(|l| l.to_ascii_lowercase().starts_with("etag:").then(|| l[5..].trim().to_string()))
            .expect("an ETag")
    };
    assert_eq!(etag(&first), etag(&second));
    assert!(second.to_ascii_lowercase().contains("x-cache: hit"), "{second}");
    let tag = etag(&first);
    let (status, _, body) =
        request(port, "GET", "/api/v1/stats/yearly?state=IL", &[&format!("If-None-Match: {tag}")]).unwrap();
    assert_eq!((status, body.as_str()), (304, ""));

    // Operations.
    let (status, _, metrics) = get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    for family in [
        "ntsb_http_requests_total{method=\"GET\",route=\"/api/v1/events\",status=\"200\"}",
        "ntsb_http_request_duration_seconds_bucket",
        "ntsb_http_requests_in_flight",
        "ntsb_store_pool_connections{state=\"idle\"}",
        "ntsb_cache_hits_total",
        "ntsb_ingest_loads_total{status=\"completed\"} 15", // one load per fixture file
        "ntsb_ingest_records_total{outcome=\"inserted\"}",
        "ntsb_build_info",
    ] {
        assert!(metrics.contains(family), "{family} missing from\n{metrics}");
    }
    assert!(server.running());
}

#[test]
fn the_server_builds_missing_detail_documents_and_they_answer_the_same() {
    let dir = loaded();
    // Undoing and redoing migration 0008 (SQLite's documents) and every later one
    // leaves every event without its document.
    let known = ntsb_store::sqlite::SqliteStore::open_in_memory().expect("store").migration_status().expect("status");
    let above_0007 = known.iter().filter(|m| m.version > 7).count().to_string();
    run_ok(dir.path(), &["db", "rollback", "--steps", &above_0007]);
    run_ok(dir.path(), &["db", "migrate"]);
    let env = [("NTSB_LOG", "info"), ("NTSB_CACHE_MB", "0")];
    let mut server = serve_with_env(dir.path(), &[], &env, Duration::from_secs(60));
    let port = server.port;
    let ids: Vec<String> =
        items(&get_json(port, "/api/v1/events?limit=1000")).iter().map(|i| str_of(i, "ev_id").to_string()).collect();
    assert_eq!(ids.len(), 6);
    let detail = |id: &str| get_json(port, &format!("/api/v1/events/{id}"));
    // Computed from the tables while (or before) the documents are built.
    let computed: Vec<Value> = ids.iter().map(|id| detail(id)).collect();

    let log = dir.path().join("server.log");
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("event detail documents built") {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no documents built: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let served: Vec<Value> = ids.iter().map(|id| detail(id)).collect();
    assert_eq!(served, computed, "a document answers exactly what the tables do");
    assert!(server.running());
}
