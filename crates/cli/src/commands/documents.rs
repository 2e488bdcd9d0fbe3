//! The event detail document builder of `ntsb serve`.
//!
//! The store answers `GET /api/v1/events/{ev_id}` from a ready JSON document
//! when the event has one (see `Store::build_documents`), and computes it from
//! the tables otherwise: answers are always current, only slower. SQLite loads
//! build the documents of what they changed before they finish, but a store
//! migrated to the documents schema, a restore, or a load by an older release
//! leaves events without one; PostgreSQL loads build none (any replica's builder
//! does, one at a time under the writers' lock, and none while a load writes).
//! This thread builds whatever is missing, a batch at a time, and then looks
//! again only when the store's data version moves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ntsb_store::{Backend, DOCUMENT_BATCH};

/// Pause between looks at an unchanged store, and after a failure.
const IDLE: Duration = Duration::from_secs(2);

/// Starts the builder on its own thread; it runs until the process exits.
pub fn spawn(store: Arc<dyn Backend>) -> std::io::Result<()> {
    std::thread::Builder::new().name("ntsb-documents".into()).spawn(move || run(store.as_ref()))?;
    Ok(())
}

fn run(store: &dyn Backend) {
    // The data version at which nothing was left to build.
    let mut complete_at: Option<u64> = None;
    let mut failing = false;
    let mut round: Option<(Instant, u64)> = None;
    loop {
        let version = store.data_version().ok();
        if version.is_some() && version == complete_at {
            std::thread::sleep(IDLE);
            continue;
        }
        match store.build_documents(DOCUMENT_BATCH) {
            Ok(0) => {
                if let Some((started, built)) = round.take() {
                    tracing::info!(built, seconds = started.elapsed().as_secs_f64(), "event detail documents built");
                }
                if failing {
                    tracing::info!("event detail documents: building again");
                    failing = false;
                }
                complete_at = version;
            }
            Ok(built) => {
                let (_, total) = round.get_or_insert_with(|| (Instant::now(), 0));
                *total += built as u64;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "event detail documents cannot be built now; details are computed meanwhile");
                    failing = true;
                }
                std::thread::sleep(IDLE);
            }
        }
    }
}
