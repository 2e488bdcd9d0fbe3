//! The PostgreSQL event detail, backend-specific on purpose: stored documents
//! are read in one round trip outside a transaction, or without a thread at all
//! (`nonblocking.rs`), and missing ones are built set-based (`detail.rs`).
//! Every other query is written once in `sql/reads.rs`.

use ntsb_model::query::EventDetail;

use super::PostgresStore;
use super::detail::{DOCUMENT_BY_KEY, detail};
use crate::query::detail_json;
use crate::sql::reads::{Documents, event_id_of};
use crate::{DocumentFuture, DocumentLookup, Result};

impl Documents for PostgresStore {
    fn event_detail(&self, ev_id: &str) -> Result<Option<EventDetail>> {
        let key = ev_id.trim();
        if key.is_empty() {
            return Ok(None);
        }
        self.read(|db| match event_id_of(db, key)? {
            Some(id) => detail(db, id),
            None => Ok(None),
        })
    }

    fn event_detail_json(&self, ev_id: &str) -> Result<Option<Vec<u8>>> {
        let key = ev_id.trim();
        if key.is_empty() {
            return Ok(None);
        }
        let Some(row) = self.query_opt_once(DOCUMENT_BY_KEY, &[&key])? else { return Ok(None) };
        if let Some(body) = row.try_get::<_, Option<Vec<u8>>>(1)? {
            return Ok(Some(body));
        }
        // Changed since its document was built (or never built): compute it.
        let id: i64 = row.try_get(0)?;
        self.read(|db| detail(db, id))?.map(|d| detail_json(&d)).transpose()
    }

    fn event_document_nonblocking(&self, ev_id: &str) -> Option<DocumentFuture> {
        let key = ev_id.trim().to_string();
        let reads = self.document_reads.clone();
        Some(Box::pin(async move {
            if key.is_empty() {
                return Ok(DocumentLookup::NoSuchEvent);
            }
            reads.document(&key).await
        }))
    }

    fn use_postgis(&self) -> bool {
        PostgresStore::use_postgis(self)
    }
}
