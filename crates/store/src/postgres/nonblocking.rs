//! The event detail document read without a thread (see
//! [`crate::Queries::event_document_nonblocking`]).
//!
//! Every other PostgreSQL call goes through the synchronous client on a
//! blocking thread: two thread hand-overs per call, which under thousands of
//! concurrent requests queue behind each other for seconds. The detail is the
//! hottest read and a single statement, so it runs on a few async connections
//! of its own instead, awaited on the caller's runtime. Each connection
//! pipelines any number of concurrent queries, so a handful of PostgreSQL
//! backends serve them all. A connection is opened on first use and replaced
//! when the server closed it; its I/O task runs on the caller's runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Statement};

use super::detail::DOCUMENT_BY_KEY;
use super::sql::numbered;
use crate::Result;
use crate::query::DocumentLookup;

/// Async connections kept for document reads.
const CONNECTIONS: usize = 2;

/// One connection and its prepared document statement.
struct Reader {
    client: Client,
    document: Statement,
}

/// A few lazily opened async connections, used in turn.
pub(super) struct DocumentReads {
    config: tokio_postgres::Config,
    slots: Vec<Mutex<Option<Arc<Reader>>>>,
    next: AtomicUsize,
}

impl DocumentReads {
    pub(super) fn new(config: tokio_postgres::Config) -> DocumentReads {
        DocumentReads { config, slots: (0..CONNECTIONS).map(|_| Mutex::new(None)).collect(), next: AtomicUsize::new(0) }
    }

    /// A connection, opened (on the current runtime) if its slot has none or
    /// the server closed it.
    async fn reader(&self) -> Result<Arc<Reader>> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        let mut held = slot.lock().await;
        if let Some(reader) = held.as_ref().filter(|r| !r.client.is_closed()) {
            return Ok(reader.clone());
        }
        let (client, connection) = self.config.connect(NoTls).await?;
        // Drives the connection until the server or the client closes it; an
        // error shows in the query that meets it, and the next read reconnects.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let document = client.prepare(&numbered(DOCUMENT_BY_KEY)).await?;
        let reader = Arc::new(Reader { client, document });
        *held = Some(reader.clone());
        Ok(reader)
    }

    /// The document of the event `key` names.
    pub(super) async fn document(&self, key: &str) -> Result<DocumentLookup> {
        let reader = self.reader().await?;
        let Some(row) = reader.client.query_opt(&reader.document, &[&key]).await? else {
            return Ok(DocumentLookup::NoSuchEvent);
        };
        Ok(match row.try_get::<_, Option<Vec<u8>>>(1)? {
            Some(body) => DocumentLookup::Ready(body),
            None => DocumentLookup::Compute,
        })
    }
}
