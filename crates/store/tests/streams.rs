//! Stream positions and job leases (`Streams`, migration 0015) on both
//! backends: one holder of a lease at a time, take-over only after expiry, a
//! position written with the records it stands for (or not at all), and a
//! position refused to a process that lost its lease.

#[macro_use]
mod common;

use ntsb_model::SourceKind;
use ntsb_model::records::{EventRecord, Record, Reject, SourcedRecord};
use ntsb_store::{Backend, Cursor, LoadSource};

fn cursor(stream: &str, part: i64, position: i64) -> Cursor {
    Cursor { stream: stream.into(), part, position }
}

conformance! {
fn a_lease_has_one_holder_until_it_expires_or_is_released(kind) {
    let s = kind.store("a_lease_has_one_holder_until_it_expires_or_is_released");
    let s: &dyn Backend = &*s;
    assert!(s.acquire_lease("job", "a", 1_000, 10_000).unwrap(), "a free lease is taken");
    assert!(!s.acquire_lease("job", "b", 1_000, 10_500).unwrap(), "held by a until 11,000");
    assert!(s.acquire_lease("job", "a", 1_000, 10_900).unwrap(), "the holder renews it");
    assert!(!s.acquire_lease("job", "b", 1_000, 11_800).unwrap(), "renewed until 11,900");
    assert!(s.acquire_lease("other", "b", 1_000, 11_800).unwrap(), "leases are independent");
    assert!(s.acquire_lease("job", "b", 1_000, 11_901).unwrap(), "expired: b takes it over");
    assert!(!s.acquire_lease("job", "a", 1_000, 11_950).unwrap(), "a lost it");
    s.release_lease("job", "a").unwrap();
    assert!(!s.acquire_lease("job", "a", 1_000, 11_960).unwrap(), "releasing someone else's lease does nothing");
    s.release_lease("job", "b").unwrap();
    assert!(s.acquire_lease("job", "a", 1_000, 11_970).unwrap(), "a released lease is free at once");
}

fn a_position_is_stored_only_while_its_lease_is_held(kind) {
    let s = kind.store("a_position_is_stored_only_while_its_lease_is_held");
    let s: &dyn Backend = &*s;
    assert!(s.cursors("out").unwrap().is_empty());
    assert!(s.save_cursor(&cursor("out", 0, 5), None, 0).unwrap());
    assert!(s.acquire_lease("pub", "a", 1_000, 10_000).unwrap());
    assert!(s.save_cursor(&cursor("out", 0, 9), Some(("pub", "a")), 10_100).unwrap());
    assert!(!s.save_cursor(&cursor("out", 0, 7), Some(("pub", "b")), 10_200).unwrap(), "b holds no lease");
    assert!(!s.save_cursor(&cursor("out", 0, 7), Some(("pub", "a")), 11_001).unwrap(), "a's lease expired");
    assert!(s.save_cursor(&cursor("out", 1, 3), None, 0).unwrap());
    assert_eq!(s.cursors("out").unwrap(), vec![cursor("out", 0, 9), cursor("out", 1, 3)]);
}

fn a_stream_batch_commits_records_rejects_and_positions_together(kind) {
    let s = kind.store("a_stream_batch_commits_records_rejects_and_positions_together");
    let s: &dyn Backend = &*s;
    let load = s
        .begin_load(&LoadSource { path: "kafka:t/0@0-2".into(), format: "kafka".into(), checksum: "c".into(), bytes: 1 })
        .unwrap();
    let event = Record::Event(EventRecord { ev_id: Some("20080124X00101".into()), state: Some("TX".into()), ..Default::default() });
    let reject = Reject { file: "kafka:t/0".into(), line: 1, field: None, reason: "not JSON".into(), table: None };
    let out = s
        .write_stream_batch(load, SourceKind::Kafka, "kafka:t/0", vec![SourcedRecord { line: 0, record: event }], std::slice::from_ref(&reject), &[cursor("in", 0, 3)])
        .unwrap();
    assert_eq!(out.tables["events"].inserted, 1);
    assert_eq!(s.rejects(load).unwrap(), vec![reject]);
    assert_eq!(s.cursors("in").unwrap(), vec![cursor("in", 0, 3)]);
    // A batch that fails (a child of an event the demo store cannot hold here:
    // mixing demo and real data) stores neither records nor the position.
    let demo = Record::Event(EventRecord { ev_id: Some("20080124X00102".into()), ..Default::default() });
    let failed = s.write_stream_batch(load, SourceKind::Demo, "kafka:t/0", vec![SourcedRecord { line: 3, record: demo }], &[], &[cursor("in", 0, 4)]);
    assert!(failed.is_err(), "demo records never join real data");
    assert_eq!(s.cursors("in").unwrap(), vec![cursor("in", 0, 3)], "the position did not move");
    let events = s.stats().unwrap().tables.iter().find(|(t, _)| t == "events").map(|(_, n)| *n);
    assert_eq!(events, Some(1));
}
}
