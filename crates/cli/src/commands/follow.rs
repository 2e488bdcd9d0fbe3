//! The index follower of `ntsb serve`: keeps this process's full-text index in
//! step with a store that other processes write.
//!
//! With PostgreSQL, several API replicas share one database and each keeps its
//! own index directory; a load by any of them (or by `ntsb ingest` elsewhere)
//! must become searchable on all. The follower waits for the store's change
//! notification (`LISTEN`, milliseconds) or, when it cannot listen, polls every
//! [`POLL`]; on a change it applies the store's index change log to the local
//! index ([`SearchIndex::sync`]) and lets go of the index writer, so an
//! `ntsb ingest` sharing the directory is never locked out for long.

use std::sync::Arc;
use std::time::Duration;

use ntsb_search::SearchIndex;
use ntsb_store::Backend;

/// How often the store is polled when no change notification can be received,
/// and the longest wait for one.
pub const POLL: Duration = Duration::from_secs(2);

/// Pause before listening again after the listening connection failed.
const RECONNECT: Duration = Duration::from_secs(5);

/// A hook called whenever the store may have changed (a change notification,
/// or a poll): the live feed looks for new changes at once.
pub type OnChange = Box<dyn Fn() + Send>;

/// Starts the follower on its own thread (the store's client is blocking); it
/// runs until the process exits, calling `on_change` after each notification.
pub fn spawn(store: Arc<dyn Backend>, index: Arc<SearchIndex>, on_change: OnChange) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("ntsb-index-follower".into())
        .spawn(move || Follower::new(store, index).run(on_change))?;
    Ok(())
}

struct Follower {
    store: Arc<dyn Backend>,
    index: Arc<SearchIndex>,
    listener: Option<ntsb_store::postgres::ChangeListener>,
    /// Whether the last attempt failed (errors are logged once, recovery too).
    failing: bool,
}

impl Follower {
    fn new(store: Arc<dyn Backend>, index: Arc<SearchIndex>) -> Follower {
        Follower { store, index, listener: None, failing: false }
    }

    fn run(mut self, on_change: OnChange) {
        loop {
            self.wait_for_change();
            on_change();
            self.catch_up();
        }
    }

    /// Returns when the store announced a change, or after [`POLL`].
    fn wait_for_change(&mut self) {
        if self.listener.is_none()
            && let Some(pg) = self.store.as_postgres()
        {
            match pg.listen_changes() {
                Ok(listener) => self.listener = Some(listener),
                Err(e) => {
                    tracing::warn!(error = %e, "index follower: cannot listen for changes; polling instead");
                    std::thread::sleep(RECONNECT.min(POLL));
                    return;
                }
            }
        }
        match &mut self.listener {
            Some(listener) => {
                if let Err(e) = listener.wait(POLL) {
                    tracing::warn!(error = %e, "index follower: the listening connection failed; reconnecting");
                    self.listener = None;
                }
            }
            None => std::thread::sleep(POLL),
        }
    }

    /// Syncs the index when the store's change log is ahead of it.
    fn catch_up(&mut self) {
        let result = (|| -> Result<Option<ntsb_search::SyncOutcome>, String> {
            let head = self.store.index_log_head().map_err(|e| e.to_string())?;
            let position = self.index.position().map_err(|e| e.to_string())?;
            if head == position {
                return Ok(None);
            }
            let outcome = self.index.sync(self.store.as_ref());
            self.index.release_writer();
            match outcome {
                Ok(o) => Ok(Some(o)),
                // Another process is syncing this directory: it brings it up to date.
                Err(ntsb_search::Error::Locked { .. }) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        })();
        match result {
            Ok(outcome) => {
                if self.failing {
                    tracing::info!("index follower: recovered");
                    self.failing = false;
                }
                if let Some(o) = outcome.filter(|o| o.indexed + o.removed > 0) {
                    tracing::info!(indexed = o.indexed, removed = o.removed, "index follower: applied changes");
                }
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!(error = %e, "index follower: cannot sync the index; will retry");
                    self.failing = true;
                }
            }
        }
    }
}
