//! The change feed (`Store::changes`): every committed change to an event, in
//! commit order, on both backends (`conformance!`), and under concurrent writers
//! a follower never skips a change committed late.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ntsb_model::SourceKind;
use ntsb_model::records::{AircraftRecord, EventRecord, EventRef, NarrativeRecord, Record, SourcedRecord};
use ntsb_store::{Backend, Change, ChangeKind, LoadId, LoadSource};

const EV: &str = "20080124X00101";
const NO: &str = "NYC08CA068";

fn begin(store: &dyn Backend, path: &str) -> LoadId {
    store
        .begin_load(&LoadSource { path: path.into(), format: "test".into(), checksum: format!("sum-{path}"), bytes: 1 })
        .expect("begin load")
}

fn write(store: &dyn Backend, load: LoadId, kind: SourceKind, records: Vec<Record>) {
    let sourced = records.into_iter().enumerate().map(|(i, record)| SourcedRecord { line: i as u64 + 2, record });
    store.write_batch(load, kind, "file.csv", sourced.collect()).expect("write batch");
}

fn event(ev_id: Option<&str>, ntsb_no: Option<&str>, state: Option<&str>) -> Record {
    Record::Event(EventRecord {
        ev_id: ev_id.map(str::to_string),
        ntsb_no: ntsb_no.map(str::to_string),
        state: state.map(str::to_string),
        event_date: Some("2008-01-24".into()),
        ..Default::default()
    })
}

fn aircraft(event: EventRef, key: i64, make: &str) -> Record {
    Record::Aircraft(AircraftRecord { event, aircraft_key: key, make: Some(make.into()), ..Default::default() })
}

fn narrative(event: EventRef, key: i64, text: &str) -> Record {
    Record::Narrative(NarrativeRecord { event, aircraft_key: key, narrative: Some(text.into()), ..Default::default() })
}

fn all_changes(store: &dyn Backend, after: u64) -> Vec<Change> {
    store.changes(after, 10_000).expect("changes")
}

fn summary(changes: &[Change]) -> Vec<(Option<String>, ChangeKind, Vec<String>)> {
    changes.iter().map(|c| (c.ev_id.clone(), c.kind, c.fields.clone())).collect()
}

conformance! {
fn every_committed_change_to_an_event_is_logged_once_per_batch_in_order(kind) {
    let s = kind.store("every_committed_change_to_an_event_is_logged_once_per_batch_in_order");
    let s: &dyn Backend = &*s;
    assert_eq!(s.change_log_head().expect("head"), 0);
    assert!(all_changes(s, 0).is_empty());
    let load = begin(s, "a.csv");
    let ev = || EventRef::EvId(EV.into());
    write(s, load, SourceKind::Avall, vec![event(Some(EV), Some(NO), Some("NY")), aircraft(ev(), 1, "CESSNA")]);
    let first = all_changes(s, 0);
    assert_eq!(summary(&first), [(Some(EV.to_string()), ChangeKind::Created, vec![])]);
    assert_eq!(first[0].ntsb_no.as_deref(), Some(NO));
    assert_eq!(first[0].load, Some(load.0));
    assert_eq!(s.change_log_head().expect("head"), first[0].seq);

    // The same records again change nothing, so nothing is logged.
    write(s, load, SourceKind::Avall, vec![event(Some(EV), Some(NO), Some("NY")), aircraft(ev(), 1, "CESSNA")]);
    assert!(all_changes(s, first[0].seq).is_empty());

    // A newer file: a changed field, a new child row, a changed child field.
    let newer = begin(s, "b.csv");
    write(
        s,
        newer,
        SourceKind::Avall,
        vec![
            event(Some(EV), Some(NO), Some("NJ")),
            aircraft(ev(), 1, "PIPER"),
            narrative(ev(), 0, "It flew."),
            event(Some("20200101X00001"), None, Some("TX")),
        ],
    );
    let second = all_changes(s, first[0].seq);
    assert_eq!(
        summary(&second),
        [
            (
                Some(EV.to_string()),
                ChangeKind::Updated,
                vec!["aircraft.make".to_string(), "events.state".to_string(), "narratives".to_string()]
            ),
            (Some("20200101X00001".to_string()), ChangeKind::Created, vec![]),
        ]
    );
    assert!(second[0].seq > first[0].seq && second[1].seq > second[0].seq);
    // A reader resuming anywhere gets exactly what follows.
    assert_eq!(all_changes(s, second[0].seq), second[1..].to_vec());
    assert_eq!(s.changes(0, 2).expect("limited").len(), 2);
}

fn a_placeholder_merged_into_its_event_is_logged_as_deleted(kind) {
    let s = kind.store("a_placeholder_merged_into_its_event_is_logged_as_deleted");
    let s: &dyn Backend = &*s;
    let load = begin(s, "x");
    write(s, load, SourceKind::Avall, vec![event(Some(EV), None, None)]);
    let carol = Record::Event(EventRecord { city: Some("ALBANY".into()), ..Default::default() });
    let Record::Event(mut carol_event) = carol else { unreachable!() };
    carol_event.ntsb_no = Some(NO.into());
    write(s, load, SourceKind::Carol, vec![Record::Event(carol_event)]);
    let before = s.change_log_head().expect("head");
    let placeholder = all_changes(s, 0).into_iter().find(|c| c.ev_id.is_none()).expect("placeholder created");
    assert_eq!((placeholder.kind, placeholder.ntsb_no.as_deref()), (ChangeKind::Created, Some(NO)));

    write(s, load, SourceKind::Avall, vec![event(Some(EV), Some(NO), None)]);
    let merged = all_changes(s, before);
    assert_eq!(merged.len(), 2, "{merged:?}");
    let real = merged.iter().find(|c| c.ev_id.as_deref() == Some(EV)).expect("real event");
    assert_eq!(real.kind, ChangeKind::Updated);
    assert!(real.fields.contains(&"merged".to_string()) && real.fields.contains(&"events.city".to_string()), "{real:?}");
    let gone = merged.iter().find(|c| c.kind == ChangeKind::Deleted).expect("placeholder deleted");
    assert_eq!((gone.ev_id.as_deref(), gone.ntsb_no.as_deref()), (None, Some(NO)));
}

fn a_refused_batch_logs_nothing(kind) {
    let s = kind.store("a_refused_batch_logs_nothing");
    let s: &dyn Backend = &*s;
    let load = begin(s, "demo");
    write(s, load, SourceKind::Demo, vec![event(Some(EV), None, Some("NY"))]);
    let head = s.change_log_head().expect("head");
    // Real data cannot enter a demo store: the whole batch is refused.
    let records = vec![SourcedRecord { line: 2, record: event(Some("20200101X00001"), None, None) }];
    assert!(s.write_batch(load, SourceKind::Avall, "f", records).is_err());
    assert_eq!(s.change_log_head().expect("head"), head);
}

fn followers_never_skip_a_change_while_writers_commit_concurrently(kind) {
    let s = kind.shared("followers_never_skip_a_change_while_writers_commit_concurrently");
    s.migrate().expect("migrate");
    let store: Arc<dyn Backend> = s.arc();
    const WRITERS: usize = 4;
    const BATCHES: usize = 15;
    let done = Arc::new(AtomicBool::new(false));
    // A follower reads after the last position it saw, as the feed engine does;
    // whatever it missed (a change that became visible below its position) shows
    // up as a gap against the final log.
    let follower = {
        let store = Arc::clone(&store);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut seen: Vec<u64> = Vec::new();
            let mut after = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = store.changes(after, 1000).expect("changes");
                for c in &batch {
                    assert!(c.seq > after, "positions go forward");
                    seen.push(c.seq);
                    after = c.seq;
                }
                if finished && batch.is_empty() {
                    return seen;
                }
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let load = begin(&*store, &format!("w{w}"));
                for b in 0..BATCHES {
                    let records = (0..20)
                        .map(|i| event(Some(&format!("2020{w:02}{b:02}X{i:05}")), None, Some("TX")))
                        .collect();
                    write(&*store, load, SourceKind::Avall, records);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    done.store(true, Ordering::SeqCst);
    let seen = follower.join().expect("follower");
    let all: Vec<u64> = all_changes(&*store, 0).iter().map(|c| c.seq).collect();
    assert_eq!(all.len(), WRITERS * BATCHES * 20);
    assert_eq!(seen, all, "the follower saw every change, once, in order");
    let distinct: BTreeSet<&u64> = all.iter().collect();
    assert_eq!(distinct.len(), all.len());
}
}
