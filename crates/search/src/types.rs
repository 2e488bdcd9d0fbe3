//! Plain data types of the search API.

use serde::{Deserialize, Serialize};

/// Largest page size [`crate::SearchIndex::search`] returns.
pub const MAX_LIMIT: usize = 1_000;

/// Largest offset honoured; deeper pages are empty (nobody reads page 500, and a
/// deep offset costs memory proportional to it).
pub const MAX_OFFSET: usize = 10_000;

/// Paging and filters of a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchOptions {
    /// Hits per page (capped at [`MAX_LIMIT`]; 0 only counts).
    pub limit: usize,
    /// Hits to skip (capped at [`MAX_OFFSET`]).
    pub offset: usize,
    /// Only events in this year or later.
    pub year_from: Option<i64>,
    /// Only events in this year or earlier.
    pub year_to: Option<i64>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions { limit: 20, offset: 0, year_from: None, year_to: None }
    }
}

/// One page of results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    /// Number of matching documents in the whole index.
    pub total: u64,
    /// The requested page, best first.
    pub hits: Vec<Hit>,
}

/// One matching event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Store's internal event id.
    pub event_id: i64,
    /// NTSB event id, when known.
    pub ev_id: Option<String>,
    /// NTSB case number, when known.
    pub ntsb_no: Option<String>,
    /// ISO event date, when known.
    pub event_date: Option<String>,
    /// BM25 relevance (higher is better; comparable within one query only).
    pub score: f32,
    /// HTML-escaped excerpt (about 200 characters) with matches in `<mark>…</mark>`.
    pub snippet: String,
}

/// What a [`crate::SearchIndex::sync`] or [`crate::SearchIndex::rebuild`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncOutcome {
    /// Documents added or replaced.
    pub indexed: u64,
    /// Documents removed (events whose text disappeared, or, for a rebuild, the
    /// documents of the old index).
    pub removed: u64,
}

/// The stored text of one event, as indexed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Store's internal event id.
    pub event_id: i64,
    /// NTSB event id, when known.
    pub ev_id: Option<String>,
    /// NTSB case number, when known.
    pub ntsb_no: Option<String>,
    /// ISO event date, when known.
    pub event_date: Option<String>,
    /// Narrative text.
    pub narrative: String,
    /// Probable cause text.
    pub probable_cause: String,
}
