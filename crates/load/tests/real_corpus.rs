//! Loads the whole shared NTSB corpus (`../shared/data/ntsb`) into a fresh store
//! and checks exact figures, then loads it again and checks that nothing changes.
//! Skips, saying why, when the corpus is absent.

use std::collections::BTreeMap;

use ntsb_load::{LoadOptions, LoadReport, Loader, NoProgress};
use ntsb_search::{SearchIndex, SearchOptions};
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{Store, TableCounts};

fn load(store: &dyn Store, index: &SearchIndex, dir: &std::path::Path, rejects: &std::path::Path) -> LoadReport {
    let loader = Loader::new(store, Some(index), LoadOptions::new(rejects.to_path_buf()));
    loader.load_paths(&[dir.to_path_buf()], &mut NoProgress).expect("load")
}

fn file<'r>(report: &'r LoadReport, name: &str) -> &'r ntsb_load::FileOutcome {
    report.files.iter().find(|f| f.path.ends_with(name)).expect("file loaded")
}

/// Records of one table a file produced, whatever happened to them.
fn seen(f: &ntsb_load::FileOutcome, table: &str) -> u64 {
    f.summary.tables.get(table).map(|c| c.inserted + c.updated + c.unchanged + c.rejected).unwrap_or(0)
}

fn rows(store: &dyn Store) -> BTreeMap<String, u64> {
    store.stats().unwrap().tables.into_iter().collect()
}

#[test]
fn the_whole_corpus_loads_exactly_and_reloads_without_writes() {
    let Some(shared) = ntsb_test_support::shared_data("the_whole_corpus_loads_exactly_and_reloads_without_writes")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&tmp.path().join("ntsb.sqlite")).unwrap();
    store.migrate().unwrap();
    let index = SearchIndex::open_or_create(&tmp.path().join("index")).unwrap();

    let started = std::time::Instant::now();
    let first = load(&store, &index, &shared.join("ntsb"), &tmp.path().join("rejects"));
    eprintln!("first load: {:.1} s", started.elapsed().as_secs_f64());
    for f in &first.files {
        eprintln!("{:>8} ms {:<16} {} {:?}", f.summary.duration_ms, f.format, f.path.display(), f.summary.total());
    }
    for (t, c) in &first.totals {
        eprintln!("{t:<24} {c:?}");
    }
    for s in &first.skipped {
        eprintln!("skipped {}: {}", s.path.display(), s.reason);
    }
    assert!(!first.failed(), "{:?}", first.files.iter().filter(|f| f.error.is_some()).collect::<Vec<_>>());
    let stats = store.stats().unwrap();
    eprintln!("{stats:#?}");
    eprintln!("indexed {}", first.indexed);

    // Every record file loads; only the derived feature table and loose report
    // texts (loaded through their index) are passed over.
    assert_eq!(first.files.len(), 20);
    assert_eq!(first.skipped.len(), 24);
    assert!(first.skipped.iter().any(|s| s.path.ends_with("ml_features_1982_2025.parquet")));

    // AviationData: 79,557 rows, one per aircraft, are 78,405 events.
    let aviation = file(&first, "AviationData_20170328.csv");
    assert_eq!(seen(aviation, "events"), 78_405);
    assert_eq!(seen(aviation, "aircraft"), 79_557);
    // Narrative files: 71,133 lines, 216 of them without any text; the 16 ids
    // that match no event are rejected with that reason.
    let narratives: u64 =
        first.files.iter().filter(|f| f.format == "narratives-jsonl").map(|f| seen(f, "narratives")).sum();
    assert_eq!(narratives, 70_917 + 1_000, "both RTI parts plus the joined sample");

    let expected_rows = [
        ("code_entries", 8_061),
        ("event_keys", 95_121),
        ("events", 90_005),
        ("aircraft", 91_222),
        ("engines", 25_922),
        ("flight_crew", 0),
        ("flight_time", 0),
        ("injury", 0),
        ("findings", 66_319),
        ("occurrences", 59_233),
        ("sequence_of_events", 0),
        ("narratives", 72_055),
        ("safety_recommendations", 139),
        ("reports", 23),
    ];
    let expected: BTreeMap<String, u64> = expected_rows.iter().map(|(t, n)| (t.to_string(), *n)).collect();
    assert_eq!(rows(&store), expected);
    assert_eq!(stats.first_event.as_deref(), Some("1948-10-24"));
    assert_eq!(stats.last_event.as_deref(), Some("2025-01-25"));
    assert_eq!(stats.events_with_narrative, 70_903, "70,916 narratives less 13 of unknown events");
    assert_eq!(stats.events_with_probable_cause, 47_756, "RTI, CAROL and safety-recommendation causes");
    assert_eq!(first.totals["narratives"].rejected, 13);
    assert_eq!(first.indexed, 72_052);
    assert!(store.check_integrity().unwrap().is_empty());
    let before = store.content_checksums().unwrap();

    let started = std::time::Instant::now();
    let second = load(&store, &index, &shared.join("ntsb"), &tmp.path().join("rejects"));
    eprintln!("re-ingest: {:.1} s", started.elapsed().as_secs_f64());
    let t: TableCounts = second.total();
    assert_eq!(t.inserted + t.updated, 0, "re-ingest wrote: {:#?}", second.totals);
    assert_eq!(second.indexed, 0);
    assert_eq!(rows(&store), stats.tables.iter().cloned().collect());
    assert_eq!(store.content_checksums().unwrap(), before);

    let hits = index.search("carburetor icing", &SearchOptions::default()).unwrap();
    assert!(hits.total > 100, "{}", hits.total);
}
