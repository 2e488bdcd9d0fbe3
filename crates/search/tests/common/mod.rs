//! Test fixtures: a store with a few events, and a store decorator that reports
//! removals.

#![allow(dead_code)]

mod fake;

use std::sync::Mutex;

use ntsb_model::SourceKind;
use ntsb_model::records::{EventRecord, EventRef, NarrativeRecord, Record, SourcedRecord};
use ntsb_search::SearchIndex;
use ntsb_store::{IndexDoc, LoadSource, Store};

/// A temporary directory with a store and an index directory.
pub struct Fixture {
    dir: tempfile::TempDir,
    store: Box<dyn Store>,
}

impl Fixture {
    /// An empty, migrated store in a temporary directory.
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Box<dyn Store> = Box::new(fake::FakeStore::default());
        store.migrate().expect("migrate");
        Fixture { dir, store }
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// A fresh index handle on the fixture's index directory.
    pub fn index(&self) -> SearchIndex {
        SearchIndex::open_or_create(&self.dir.path().join("index")).expect("open index")
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
        let source = LoadSource {
            path: "test".into(),
            format: SourceKind::NarrativeJsonl.as_str().into(),
            checksum: "0".into(),
            bytes: 0,
        };
        let load = self.store.begin_load(&source).expect("begin load");
        let records = records.into_iter().enumerate().map(|(i, record)| SourcedRecord { line: i as u64 + 1, record });
        let out = self.store.write_batch(load, SourceKind::NarrativeJsonl, "test", records.collect()).expect("write");
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

/// Wraps a store and adds "remove this document" entries to its pending queue,
/// the way a store reports an event whose text disappeared.
pub struct RemovingStore<'a> {
    inner: &'a dyn Store,
    removals: Mutex<Vec<i64>>,
}

impl<'a> RemovingStore<'a> {
    /// Wraps a store.
    pub fn new(inner: &'a dyn Store) -> Self {
        RemovingStore { inner, removals: Mutex::new(Vec::new()) }
    }

    /// Queues the removal of one event's document.
    pub fn remove(&self, event_id: i64) {
        self.removals.lock().expect("lock").push(event_id);
    }
}

impl Store for RemovingStore<'_> {
    fn migrate(&self) -> ntsb_store::Result<Vec<i64>> {
        self.inner.migrate()
    }
    fn rollback(&self, steps: usize) -> ntsb_store::Result<Vec<i64>> {
        self.inner.rollback(steps)
    }
    fn migration_status(&self) -> ntsb_store::Result<Vec<ntsb_store::MigrationStatus>> {
        self.inner.migration_status()
    }
    fn begin_load(&self, source: &LoadSource) -> ntsb_store::Result<ntsb_store::LoadId> {
        self.inner.begin_load(source)
    }
    fn write_batch(
        &self,
        load: ntsb_store::LoadId,
        kind: SourceKind,
        file: &str,
        records: Vec<SourcedRecord>,
    ) -> ntsb_store::Result<ntsb_store::BatchOutcome> {
        self.inner.write_batch(load, kind, file, records)
    }
    fn record_rejects(
        &self,
        load: ntsb_store::LoadId,
        rejects: &[ntsb_model::records::Reject],
    ) -> ntsb_store::Result<()> {
        self.inner.record_rejects(load, rejects)
    }
    fn finish_load(&self, load: ntsb_store::LoadId, summary: &ntsb_store::LoadSummary) -> ntsb_store::Result<()> {
        self.inner.finish_load(load, summary)
    }
    fn loads(&self, limit: usize) -> ntsb_store::Result<Vec<ntsb_store::LoadEntry>> {
        self.inner.loads(limit)
    }
    fn rejects(&self, load: ntsb_store::LoadId) -> ntsb_store::Result<Vec<ntsb_model::records::Reject>> {
        self.inner.rejects(load)
    }
    fn stats(&self) -> ntsb_store::Result<ntsb_store::StoreStats> {
        self.inner.stats()
    }
    fn revisions(&self, event: &str) -> ntsb_store::Result<Vec<ntsb_store::Revision>> {
        self.inner.revisions(event)
    }
    fn pending_index_docs(&self, limit: usize) -> ntsb_store::Result<Vec<IndexDoc>> {
        let mut docs = self.inner.pending_index_docs(limit)?;
        let removals = self.removals.lock().expect("lock");
        docs.extend(removals.iter().map(|&event_id| IndexDoc {
            event_id,
            ev_id: None,
            ntsb_no: None,
            event_date: None,
            text: None,
        }));
        Ok(docs)
    }
    fn mark_indexed(&self, event_ids: &[i64]) -> ntsb_store::Result<()> {
        self.removals.lock().expect("lock").retain(|id| !event_ids.contains(id));
        self.inner.mark_indexed(event_ids)
    }
    fn requeue_all_for_index(&self) -> ntsb_store::Result<u64> {
        self.inner.requeue_all_for_index()
    }
    fn content_kind(&self) -> ntsb_store::Result<Option<bool>> {
        self.inner.content_kind()
    }
}
