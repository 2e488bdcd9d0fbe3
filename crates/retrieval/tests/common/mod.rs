//! Test fixture: a real SQLite store in a temporary directory, with helpers to
//! write events and their text.

#![allow(dead_code)]

use ntsb_model::SourceKind;
use ntsb_model::records::{EventRecord, EventRef, NarrativeRecord, Record, SourcedRecord};
use ntsb_store::{LoadSource, Store};

/// A temporary directory with a store and an index directory.
pub struct Fixture {
    dir: tempfile::TempDir,
    store: Box<dyn Store>,
    /// Writes so far: each write is a new "file" (own checksum), so a later
    /// write replaces what an earlier one said, as a newer export would.
    writes: std::sync::atomic::AtomicU64,
}

impl Fixture {
    /// An empty, migrated SQLite store in a temporary directory.
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Box<dyn Store> =
            Box::new(ntsb_store::sqlite::SqliteStore::open(&dir.path().join("ntsb.sqlite")).expect("open store"));
        store.migrate().expect("migrate");
        Fixture { dir, store, writes: std::sync::atomic::AtomicU64::new(0) }
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The directory for vectors.
    pub fn vectors_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("vectors")
    }

    /// Writes one event with its event-level narrative and probable cause.
    pub fn event(&self, ev_id: &str, date: &str, narrative: &str, probable_cause: &str) {
        let event = EventRecord {
            ev_id: Some(ev_id.to_string()),
            ntsb_no: Some(format!("TST{}", &ev_id[9..])),
            event_type: Some("accident".into()),
            event_date: Some(date.to_string()),
            synthetic: Some(false),
            ..Default::default()
        };
        self.write(vec![Record::Event(event), narrative_record(ev_id, narrative, probable_cause)]);
    }

    /// Replaces the narrative and probable cause of an event.
    pub fn narrative(&self, ev_id: &str, narrative: &str, probable_cause: &str) {
        self.write(vec![narrative_record(ev_id, narrative, probable_cause)]);
    }

    /// Writes records in one batch; panics on rejects.
    pub fn write(&self, records: Vec<Record>) {
        self.write_as(SourceKind::NarrativeJsonl, records);
    }

    /// Writes records of one source kind in one batch; panics on rejects.
    pub fn write_as(&self, kind: SourceKind, records: Vec<Record>) {
        let n = self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let source = LoadSource {
            path: format!("test-{n}"),
            format: kind.as_str().into(),
            checksum: format!("{n:064x}"),
            bytes: 0,
        };
        let load = self.store.begin_load(&source).expect("begin load");
        let records = records.into_iter().enumerate().map(|(i, record)| SourcedRecord { line: i as u64 + 1, record });
        let out = self.store.write_batch(load, kind, &source.path, records.collect()).expect("write");
        assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    }
}

fn narrative_record(ev_id: &str, narrative: &str, probable_cause: &str) -> Record {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Record::Narrative(NarrativeRecord {
        event: EventRef::EvId(ev_id.to_string()),
        aircraft_key: 0,
        narrative: text(narrative),
        probable_cause: text(probable_cause),
        ..Default::default()
    })
}
