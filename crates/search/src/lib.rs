//! Full-text index of NTSB narratives and probable causes, kept in step with the store.
//!
//! The store is the source of truth; this index is a disposable projection of it.
//! [`SearchIndex::sync`] reads the store's index change log after the position
//! the index last committed ([`ntsb_store::Store::index_changes`]), replaces the
//! changed documents and commits them together with the new position, so a crash
//! in between merely applies them again, and any number of indexes (one per API
//! replica) follow one store independently. [`SearchIndex::rebuild`] starts from
//! scratch.
//!
//! [`SearchIndex::search`] accepts any text a user can type: it never fails on
//! query syntax and never panics (its documentation gives the query language).
//! It ranks with BM25 over the narrative and the (boosted) probable cause, and
//! returns HTML-safe snippets with the matches in `<mark>`.
//!
//! ```no_run
//! # fn demo(store: &dyn ntsb_store::Store) -> ntsb_search::Result<()> {
//! use ntsb_search::{SearchIndex, SearchOptions};
//! let index = SearchIndex::open_or_create(std::path::Path::new("data/index"))?;
//! index.sync(store)?;
//! let page = index.search("\"carburetor icing\"", &SearchOptions::default())?;
//! for hit in page.hits {
//!     println!("{:?} {:.2} {}", hit.ev_id, hit.score, hit.snippet);
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
mod index;
mod query;
mod schema;
mod snippet;
mod types;

pub use error::{Error, Result};
pub use index::{MAX_IDS, SearchIndex};
pub use query::{MAX_QUERY_CHARS, PROBABLE_CAUSE_BOOST};
pub use schema::{SCHEMA_VERSION, VERSION_FILE};
pub use snippet::{SNIPPET_CHARS, excerpt};
pub use types::{Document, Hit, MAX_LIMIT, MAX_OFFSET, SearchOptions, SearchResults, SyncOutcome};
