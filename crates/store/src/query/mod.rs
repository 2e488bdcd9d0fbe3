//! The read side of a store: listings, details, statistics, maps and exports,
//! all answering the same [`EventFilter`].
//!
//! Callers (the HTTP server, the CLI) hold an `Arc<dyn Queries>` and never see
//! SQL. Every method applies the filter the same way (one `WHERE` clause built
//! in one place by each backend), counts injuries from the event's own totals
//! (never summed over aircraft), and treats aircraft-level conditions as "any
//! aircraft matches" without ever returning an event twice.
//!
//! Invalid user input (a malformed cursor, an inverted date range or bounding
//! box, a non-positive radius or cell size) is [`crate::Error::InvalidQuery`]
//! naming the parameter.

use ntsb_model::query::{
    Breakdown, BreakdownRow, Cluster, EventDetail, EventFilter, EventPage, EventQuery, EventSummary, FindingRow,
    GridCell, OccurrenceRow, PhaseOccurrences, Summary,
};

use std::future::Future;
use std::pin::Pin;

use crate::{Error, Result};

pub mod cursor;
pub(crate) mod dbscan;

/// An [`Error::InvalidQuery`] naming the user's parameter.
/// Checks a filter as every query does (inverted ranges, bad coordinates,
/// empty strings, impossible years are [`Error::InvalidQuery`] naming the
/// parameter), without reading anything: for engines that answer filters from
/// elsewhere and must reject exactly what the store rejects.
pub fn check_filter(f: &ntsb_model::query::EventFilter) -> Result<()> {
    crate::sql::filter::Where::from_filter(f, crate::sql::Dialect::Sqlite).map(|_| ())
}

pub(crate) fn invalid(parameter: &str, reason: impl Into<String>) -> Error {
    Error::InvalidQuery { parameter: parameter.to_string(), reason: reason.into() }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` prefix pattern (both backends).
pub(crate) fn like_prefix(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A trimmed, non-empty user value, or an error naming the parameter.
pub(crate) fn non_empty<'a>(parameter: &str, s: &'a str) -> Result<&'a str> {
    let t = s.trim();
    if t.is_empty() { Err(invalid(parameter, "must not be empty")) } else { Ok(t) }
}

/// Largest number of points [`Queries::clusters`] clusters: the newest events
/// matching the filter beyond it are left out (narrow the filter to see all).
pub const MAX_CLUSTER_POINTS: usize = 100_000;

/// Adds a trimmed, non-empty text unless it is already there: how an event's
/// narratives and probable causes are gathered aircraft by aircraft (details,
/// index documents, both backends).
pub(crate) fn push_text(into: &mut Vec<String>, text: Option<String>) {
    if let Some(t) = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
        && !into.contains(&t)
    {
        into.push(t);
    }
}

/// The JSON document of an event detail (see [`Queries::event_detail_json`]).
pub fn detail_json(detail: &EventDetail) -> Result<Vec<u8>> {
    serde_json::to_vec(detail).map_err(|e| Error::Corrupt(format!("serializing an event detail: {e}")))
}

/// What [`Queries::event_document_nonblocking`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentLookup {
    /// The event's current document.
    Ready(Vec<u8>),
    /// No event has that `ev_id` or case number.
    NoSuchEvent,
    /// The event exists without a current document: call
    /// [`Queries::event_detail_json`] (on a thread that may block).
    Compute,
}

/// A [`DocumentLookup`] being read.
pub type DocumentFuture = Pin<Box<dyn Future<Output = Result<DocumentLookup>> + Send>>;

/// Read-only questions about the stored events.
pub trait Queries: Send + Sync {
    /// One page of events matching `q.filter`, in `q.sort` order, after `q.cursor`
    /// (keyset pagination, stable under ties), with the total match count.
    fn list_events(&self, q: &EventQuery) -> Result<EventPage>;

    /// [`Queries::list_events`] without counting the matches (`total` is 0): for a
    /// caller that knows the count already (an in-memory projection), so the
    /// store does not scan for it.
    fn list_events_uncounted(&self, q: &EventQuery) -> Result<EventPage> {
        self.list_events(q)
    }

    /// The listing rows of the given events (store ids), in the given order;
    /// ids of events that no longer exist are left out. For a caller that
    /// chose a page's events itself (the in-memory projection's listing).
    fn event_summaries(&self, ids: &[i64]) -> Result<Vec<EventSummary>>;

    /// Everything about one event, by `ev_id`, or by `ntsb_no` when no event has
    /// that `ev_id`. `None` when unknown.
    fn event_detail(&self, ev_id: &str) -> Result<Option<EventDetail>>;

    /// [`Queries::event_detail`] as the JSON document the API serves, byte for
    /// byte what serializing the detail with `serde_json` gives. Stores that keep
    /// documents ready (SQLite, see [`crate::Store::build_documents`]) answer
    /// with one read; the others serialize the computed detail.
    fn event_detail_json(&self, ev_id: &str) -> Result<Option<Vec<u8>>> {
        self.event_detail(ev_id)?.map(|d| detail_json(&d)).transpose()
    }

    /// The event's stored detail document, read without blocking a thread, for
    /// backends whose every call otherwise waits on the network on a blocking
    /// thread (PostgreSQL). Must be awaited on a tokio runtime (it may open a
    /// connection there). `None`: the backend has no such read; call
    /// [`Queries::event_detail_json`] instead (SQLite answers that in tens of
    /// microseconds).
    fn event_document_nonblocking(&self, ev_id: &str) -> Option<DocumentFuture> {
        let _ = ev_id;
        None
    }

    /// Whether [`Queries::event_detail_json`] answers from local storage in tens
    /// of microseconds, never waiting on a network: then a caller on an async
    /// worker may call it in place rather than pay a hand-over to a blocking
    /// thread (measured on SQLite: the hand-over was a fifth of the detail
    /// endpoint's CPU). `false` unless a backend says otherwise.
    fn event_detail_json_is_local(&self) -> bool {
        false
    }

    /// Totals over the filtered events.
    fn summary(&self, f: &EventFilter) -> Result<Summary>;

    /// Filtered events grouped by `by`, groups with fewer than `min_count` events
    /// left out, at most `limit` rows. Time-like breakdowns are ordered by key,
    /// the others by event count descending.
    fn breakdown(&self, by: Breakdown, f: &EventFilter, min_count: u64, limit: usize) -> Result<Vec<BreakdownRow>>;

    /// Most cited findings among the filtered events, with the share cited as cause.
    fn top_findings(&self, f: &EventFilter, limit: usize) -> Result<Vec<FindingRow>>;

    /// Most frequent occurrences among the filtered events.
    fn top_occurrences(&self, f: &EventFilter, limit: usize) -> Result<Vec<OccurrenceRow>>;

    /// The `occurrences` most frequent occurrences among the filtered events
    /// (grouped by meaning, so the CICTT codes' phase part does not split them),
    /// each counted per broad phase of flight: the phase × occurrence heat map.
    fn phase_occurrences(&self, f: &EventFilter, occurrences: usize) -> Result<PhaseOccurrences>;

    /// Filtered events that have coordinates, newest first, at most `limit`.
    fn geo_events(&self, f: &EventFilter, limit: usize) -> Result<Vec<EventSummary>>;

    /// Filtered events within `km` of (`lat`, `lon`), nearest first, with their
    /// great-circle (haversine) distance in km, at most `limit`.
    fn radius(&self, f: &EventFilter, lat: f64, lon: f64, km: f64, limit: usize) -> Result<Vec<(EventSummary, f64)>>;

    /// Filtered events counted in square cells of `cell_degrees`, busiest first.
    fn grid_density(&self, f: &EventFilter, cell_degrees: f64) -> Result<Vec<GridCell>>;

    /// DBSCAN clusters (neighbourhood `eps_km`, core points with at least
    /// `min_points` neighbours including themselves) of the filtered events with
    /// coordinates, largest first, at most `limit`. At most
    /// [`MAX_CLUSTER_POINTS`] points (the newest) are clustered.
    fn clusters(&self, f: &EventFilter, eps_km: f64, min_points: usize, limit: usize) -> Result<Vec<Cluster>>;

    /// Streams every filtered event, in date order (oldest first), to `sink` in
    /// constant memory; returns how many were sent. An error from `sink` stops
    /// the export and is returned.
    fn export_events(&self, f: &EventFilter, sink: &mut dyn FnMut(&EventSummary) -> Result<()>) -> Result<u64>;
}
