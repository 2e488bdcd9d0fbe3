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

    let started = std::time::Instant::now();
    let second = load(&store, &index, &shared.join("ntsb"), &tmp.path().join("rejects"));
    eprintln!("re-ingest: {:.1} s", started.elapsed().as_secs_f64());
    let t: TableCounts = second.total();
    assert_eq!(t.inserted + t.updated, 0, "re-ingest wrote: {:#?}", second.totals);
    assert_eq!(second.indexed, 0);
    assert_eq!(rows(&store), stats.tables.iter().cloned().collect());

    let hits = index.search("carburetor icing", &SearchOptions::default()).unwrap();
    assert!(hits.total > 100, "{}", hits.total);
}
