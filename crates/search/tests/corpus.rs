//! Indexing speed and search sanity on the real narrative corpus (about 71,000
//! narratives, 71 M characters). Skipped when the shared corpus is absent.

mod common;

use std::io::BufRead;
use std::time::Instant;

use common::Fixture;
use ntsb_model::records::{EventRecord, EventRef, NarrativeRecord, Record};
use ntsb_search::SearchOptions;

#[test]
fn indexes_the_real_corpus_quickly() {
    let Some(data) = ntsb_test_support::shared_data("indexes_the_real_corpus_quickly") else { return };
    let fx = Fixture::new();
    let mut batch = Vec::new();
    let (mut events, mut chars) = (0usize, 0usize);
    let started = Instant::now();
    for part in ["ntsb_narratives_rti2016_part1.jsonl", "ntsb_narratives_rti2016_part2.jsonl"] {
        let file = std::fs::File::open(data.join("ntsb/narratives").join(part)).expect("open narratives");
        for line in std::io::BufReader::new(file).lines() {
            let line = line.expect("read");
            let v: serde_json::Value = serde_json::from_str(&line).expect("json");
            let field = |k: &str| v.get(k).and_then(|s| s.as_str()).filter(|s| !s.is_empty()).map(str::to_string);
            let Some(ev_id) = field("ev_id") else { continue };
            let (narrative, probable_cause) = (field("narrative"), field("probable_cause"));
            chars += narrative.as_deref().map_or(0, |s| s.chars().count());
            chars += probable_cause.as_deref().map_or(0, |s| s.chars().count());
            let date = format!("{}-{}-{}", &ev_id[..4], &ev_id[4..6], &ev_id[6..8]);
            batch.push(Record::Event(EventRecord {
                ev_id: Some(ev_id.clone()),
                event_date: Some(date),
                synthetic: Some(false),
                ..Default::default()
            }));
            batch.push(Record::Narrative(NarrativeRecord {
                event: EventRef::EvId(ev_id),
                aircraft_key: 0,
                narrative,
                probable_cause,
                ..Default::default()
            }));
            events += 1;
            if batch.len() >= 20_000 {
                fx.write(std::mem::take(&mut batch));
            }
        }
    }
    fx.write(batch);
    eprintln!("loaded {events} events ({chars} chars) into the store in {:.1?}", started.elapsed());

    let index = fx.index();
    let started = Instant::now();
    let out = index.sync(fx.store()).expect("sync");
    let took = started.elapsed();
    eprintln!("indexed {} documents in {took:.1?}", out.indexed);
    assert!(out.indexed > 70_000, "{out:?}");

    let opts = SearchOptions { limit: 10, ..Default::default() };
    for q in ["carburetor icing", "\"engine failure\"", "wire strike", "density altitude", "fuel exhaustion", "*"] {
        let started = Instant::now();
        let page = index.search(q, &opts).expect("search");
        eprintln!(
            "{q:>20}: {:>6} hits in {:.1?}; top {:?}",
            page.total,
            started.elapsed(),
            page.hits.first().map(|h| &h.snippet)
        );
        assert!(page.total > 0, "{q}");
    }
    let started = Instant::now();
    let again = index.sync(fx.store()).expect("resync");
    assert_eq!(again.indexed, 0);
    eprintln!("idle re-sync in {:.1?}", started.elapsed());
}
