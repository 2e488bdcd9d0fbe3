//! A tiny in-memory store used until the real SQLite store compiles. It keeps
//! only what the index needs: events, their event-level text and the queue.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use ntsb_model::SourceKind;
use ntsb_model::records::{EventRef, Record, Reject, SourcedRecord};
use ntsb_store::*;

#[derive(Default)]
struct Event {
    ev_id: Option<String>,
    ntsb_no: Option<String>,
    date: Option<String>,
    narrative: String,
    probable_cause: String,
    pending: bool,
}

/// In-memory events keyed by internal id.
#[derive(Default)]
pub struct FakeStore {
    events: Mutex<BTreeMap<i64, Event>>,
    by_ev_id: Mutex<HashMap<String, i64>>,
}

impl Store for FakeStore {
    fn migrate(&self) -> Result<Vec<i64>> {
        Ok(vec![])
    }
    fn rollback(&self, _: usize) -> Result<Vec<i64>> {
        Ok(vec![])
    }
    fn migration_status(&self) -> Result<Vec<MigrationStatus>> {
        Ok(vec![])
    }
    fn begin_load(&self, _: &LoadSource) -> Result<LoadId> {
        Ok(LoadId(1))
    }
    fn write_batch(&self, _: LoadId, _: SourceKind, _: &str, records: Vec<SourcedRecord>) -> Result<BatchOutcome> {
        let mut events = self.events.lock().expect("lock");
        let mut by_ev_id = self.by_ev_id.lock().expect("lock");
        for r in records {
            match r.record {
                Record::Event(e) => {
                    let next = events.len() as i64 + 1;
                    by_ev_id.insert(e.ev_id.clone().unwrap_or_default(), next);
                    events.insert(
                        next,
                        Event {
                            ev_id: e.ev_id,
                            ntsb_no: e.ntsb_no,
                            date: e.event_date,
                            pending: true,
                            ..Default::default()
                        },
                    );
                }
                Record::Narrative(n) => {
                    let EventRef::EvId(id) = &n.event else { continue };
                    if let Some(e) = by_ev_id.get(id).and_then(|i| events.get_mut(i)) {
                        e.narrative = n.narrative.unwrap_or_default();
                        e.probable_cause = n.probable_cause.unwrap_or_default();
                        e.pending = true;
                    }
                }
                _ => {}
            }
        }
        Ok(BatchOutcome::default())
    }
    fn record_rejects(&self, _: LoadId, _: &[Reject]) -> Result<()> {
        Ok(())
    }
    fn finish_load(&self, _: LoadId, _: &LoadSummary) -> Result<()> {
        Ok(())
    }
    fn loads(&self, _: usize) -> Result<Vec<LoadEntry>> {
        Ok(vec![])
    }
    fn rejects(&self, _: LoadId) -> Result<Vec<Reject>> {
        Ok(vec![])
    }
    fn stats(&self) -> Result<StoreStats> {
        Ok(StoreStats::default())
    }
    fn revisions(&self, _: &str) -> Result<Vec<Revision>> {
        Ok(vec![])
    }
    fn pending_index_docs(&self, limit: usize) -> Result<Vec<IndexDoc>> {
        let events = self.events.lock().expect("lock");
        Ok(events
            .iter()
            .filter(|(_, e)| e.pending)
            .take(limit)
            .map(|(&id, e)| IndexDoc {
                event_id: id,
                ev_id: e.ev_id.clone(),
                ntsb_no: e.ntsb_no.clone(),
                event_date: e.date.clone(),
                text: (!e.narrative.is_empty() || !e.probable_cause.is_empty())
                    .then(|| IndexText { narrative: e.narrative.clone(), probable_cause: e.probable_cause.clone() }),
            })
            .collect())
    }
    fn mark_indexed(&self, ids: &[i64]) -> Result<()> {
        let mut events = self.events.lock().expect("lock");
        for id in ids {
            if let Some(e) = events.get_mut(id) {
                e.pending = false;
            }
        }
        Ok(())
    }
    fn requeue_all_for_index(&self) -> Result<u64> {
        let mut events = self.events.lock().expect("lock");
        let mut n = 0;
        for e in events.values_mut().filter(|e| !e.narrative.is_empty() || !e.probable_cause.is_empty()) {
            e.pending = true;
            n += 1;
        }
        Ok(n)
    }
    fn content_kind(&self) -> Result<Option<bool>> {
        Ok(None)
    }
}
