//! End to end over the real corpus: `ntsb ingest ../shared/data/ntsb`, then the
//! real `ntsb serve`, and the API's figures cross-checked against each other and
//! against the foundation's counts. Skips with a printed reason without the corpus.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{get_json, run_ok, serve};
use serde_json::Value;

fn items(v: &Value) -> &Vec<Value> {
    v["items"].as_array().unwrap_or_else(|| panic!("no items in {v}"))
}

fn total(port: u16, query: &str) -> u64 {
    get_json(port, &format!("/api/v1/events?limit=1&{query}"))["total"].as_u64().unwrap()
}

#[test]
fn api_figures_agree_with_each_other_and_the_foundation_counts() {
    let Some(data) = ntsb_test_support::shared_data("api_figures_agree_with_each_other_and_the_foundation_counts")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    run_ok(dir.path(), &["ingest", data.join("ntsb").to_str().unwrap()]);
    let server = serve(dir.path(), &[], Duration::from_secs(120));
    let port = server.port;

    // Totals equal the foundation's counts (crates/load/tests/real_corpus.rs).
    let summary = get_json(port, "/api/v1/stats/summary");
    assert_eq!(summary["events"], 90_005, "{summary}");
    assert_eq!(summary["aircraft"], AIRCRAFT, "{summary}");
    assert_eq!(summary["fatalities"], FATALITIES, "injuries counted once per event: {summary}");
    assert_eq!(total(port, ""), 90_005);
    assert_eq!(
        total(port, "has_narrative=true"),
        72_052,
        "events with any narrative, preliminary report or probable cause"
    );

    // Yearly statistics equal the event list filtered by year, and add up.
    let yearly = get_json(port, "/api/v1/stats/yearly");
    let mut sum = 0;
    let mut fatalities = 0;
    for row in items(&yearly) {
        let events = row["events"].as_u64().unwrap();
        sum += events;
        fatalities += row["fatalities"].as_u64().unwrap();
        if let Some(year) = row["year"].as_u64() {
            assert_eq!(total(port, &format!("year={year}")), events, "year {year}");
        }
    }
    assert_eq!(sum, 90_005);
    assert_eq!(fatalities, FATALITIES);

    // States likewise (the ten busiest), and fatal events match the fatal filter.
    let states = get_json(port, "/api/v1/stats/states");
    for row in items(&states).iter().filter(|r| r["state"] != "unknown").take(10) {
        let state = row["state"].as_str().unwrap();
        assert_eq!(total(port, &format!("state={state}")), row["events"].as_u64().unwrap(), "{state}");
        let fatal = get_json(port, &format!("/api/v1/stats/summary?state={state}"))["fatal_events"].clone();
        assert_eq!(row["fatal_events"], fatal, "{state}");
    }

    // A multi-aircraft event (a 2016 midair near McKinney, TX: a Piper PA-28R and a
    // Luscombe 8, three fatalities): each aircraft once, its injuries once.
    let detail = get_json(port, "/api/v1/events/20161231X24638");
    let aircraft: BTreeMap<i64, String> = detail["aircraft"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["aircraft_key"].as_i64().unwrap(), a["make"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(aircraft.values().cloned().collect::<Vec<_>>(), ["PIPER", "LUSCOMBE"], "{detail}");
    let day = "from=2016-12-31&to=2016-12-31&state=TX";
    let page = get_json(port, &format!("/api/v1/events?{day}"));
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["items"][0]["injuries"]["fatal"], 3);
    for make in ["piper", "luscombe"] {
        assert_eq!(total(port, &format!("{day}&make={make}")), 1, "{make}");
    }
    let s = get_json(port, &format!("/api/v1/stats/summary?{day}"));
    assert_eq!((s["events"].as_u64(), s["aircraft"].as_u64(), s["fatalities"].as_u64()), (Some(1), Some(2), Some(3)));
    let makes = get_json(port, &format!("/api/v1/stats/makes?{day}"));
    let per_make: Vec<(String, u64)> = items(&makes)
        .iter()
        .map(|r| (r["make"].as_str().unwrap().to_string(), r["fatalities"].as_u64().unwrap()))
        .collect();
    assert_eq!(per_make.len(), 2, "{makes}");
    assert!(per_make.iter().all(|(_, f)| *f == 3), "each make's events carry the event's fatalities once: {makes}");
}

/// Aircraft rows in the store after loading the corpus.
const AIRCRAFT: u64 = 91_222;
/// Fatalities over distinct events (each event's own total, never summed over aircraft).
const FATALITIES: u64 = 46_087;
