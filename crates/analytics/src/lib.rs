//! The analytical engine: every statistic of the API for any filter, answered
//! from memory in well under a millisecond on the full NTSB corpus.
//!
//! A [`Projection`] holds the facts every filter and statistic reads (one
//! compact row per event, with its aircraft and finding/occurrence codes) and,
//! per distinct value, a roaring bitmap of the events holding it. A filter
//! becomes a bitmap (intersections, plus checks of the few rows a date range,
//! a box or a combination of aircraft conditions leaves undecided); statistics
//! walk the matching rows. [`Analytics`] builds the projection from the store
//! (`ntsb_store::Facts`, one set of statements for SQLite and PostgreSQL) and
//! keeps it exact by following the store's change log, as the full-text index
//! does; the store stays the source of truth and answers while the projection
//! is built.
//!
//! Answers equal the store's (`ntsb_store::Queries`) for every filter: the same
//! definitions, rankings, rates and intervals (`ntsb_model::query`), checked by
//! `tests/parity.rs` on both backends after every kind of write.
//!
//! ```
//! use ntsb_analytics::Analytics;
//! use ntsb_model::query::{Breakdown, EventFilter};
//! use ntsb_store::Store;
//!
//! let store = std::sync::Arc::new(ntsb_store::sqlite::SqliteStore::open_in_memory().unwrap());
//! store.migrate().unwrap();
//! let engine = Analytics::new(store.clone(), store);
//! engine.build().unwrap();
//! let rows = engine.breakdown(Breakdown::Year, &EventFilter::default(), 1, 100).unwrap().unwrap();
//! assert!(rows.is_empty());
//! ```
#![deny(missing_docs)]

mod dict;
mod engine;
mod error;
mod filter;
mod list;
mod projection;
mod stats;

pub use engine::{Analytics, Follower, REBUILD_AFTER, Status};
pub use error::{Error, Result};
pub use list::Page;
pub use projection::Projection;
