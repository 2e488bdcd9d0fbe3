//! `GET /api/v1/events` and `GET /api/v1/events/{ev_id}`.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use ntsb_model::query::{EventFilter, EventPage, EventQuery, MAX_PAGE, Sort};
use ntsb_store::DocumentLookup;

use crate::error::{ApiError, Problem};
use crate::extract::PathText;
use crate::openapi::{EventDetailBody, EventPageBody, FilterParams, PageParams};
use crate::params::{FILTER_PARAMS, MAX_TEXT_MATCHES, Params};
use crate::state::{AppState, blocking, engine_error};

/// Parameters of the listing beyond the filters.
const LIST_PARAMS: &[&str] = &["sort", "limit", "cursor"];

/// Longest event id or case number looked up.
const MAX_ID_CHARS: usize = 40;

/// The filter of a request, with `q` resolved through the full-text index into
/// store ids. Call on the blocking pool (it searches).
pub(crate) fn resolve_filter(
    state: &AppState,
    mut filter: EventFilter,
    q: Option<&str>,
) -> Result<EventFilter, ApiError> {
    if let Some(q) = q {
        // A filter: every word must match (ranked search returns partial matches too).
        let ids = state.index.matching_ids(q, MAX_TEXT_MATCHES)?;
        filter.event_ids = Some(ids.into_iter().map(|(id, _)| id).collect());
    }
    Ok(filter)
}

/// Parses the filter parameters and resolves `q` (on the blocking pool).
pub(crate) async fn filter_of(state: &AppState, p: &Params) -> Result<EventFilter, ApiError> {
    let filter = p.event_filter()?;
    let Some(q) = p.q()? else { return Ok(filter) };
    let state = state.clone();
    blocking(move || resolve_filter(&state, filter, Some(&q))).await
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events", summary = "List events",
    description = "Events matching every given filter, in `sort` order, one page at a time. Follow \
        `next_cursor` (pass it as `cursor` with the same filters and sort) until it is null; `total` \
        counts every match.",
    params(FilterParams, PageParams),
    responses(
        (status = 200, description = "One page of events", body = EventPageBody),
        (status = 400, description = "A parameter is invalid (the problem names it)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<EventPage>, ApiError> {
    let p = Params::parse(raw.as_deref(), &[FILTER_PARAMS, LIST_PARAMS])?;
    let sort = p.sort()?;
    let limit = p.limit(100, MAX_PAGE)?;
    let cursor = p.text("cursor")?;
    let filter = p.event_filter()?;
    let q = p.q()?;
    Ok(Json(page_of(&state, filter, q, sort, limit, cursor).await?))
}

/// One page of the events matching `filter` and `q` (what `/api/v1/events` answers;
/// the dashboard's lists call it too).
pub(crate) async fn page_of(
    state: &AppState,
    filter: EventFilter,
    q: Option<String>,
    sort: Sort,
    limit: usize,
    cursor: Option<String>,
) -> Result<EventPage, ApiError> {
    let state = state.clone();
    blocking(move || {
        let filter = resolve_filter(&state, filter, q.as_deref())?;
        let query = EventQuery { filter, sort, limit, cursor };
        // The analytical engine chooses the page's events and counts the matches,
        // when it is built; the store reads those events' rows by id.
        if let Some(page) = state.analytics.as_ref().and_then(|a| a.page(&query)) {
            let page = page.map_err(engine_error)?;
            let items = state.queries.event_summaries(&page.ids)?;
            return Ok(EventPage { items, total: page.total, next_cursor: page.next_cursor });
        }
        Ok(state.queries.list_events(&query)?)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/events/{ev_id}", tag = "events", summary = "One event in full",
    description = "Aircraft with engines, crew, injuries, decoded findings (cause/factor), occurrences, \
        narrative, probable cause, revision history and sources. `ev_id` may also be an NTSB case number.",
    params(("ev_id" = String, Path, description = "NTSB event id (or case number)", example = "20080124X00101")),
    responses(
        (status = 200, description = "The event", body = EventDetailBody),
        (status = 404, description = "No such event", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn detail(
    State(state): State<AppState>,
    PathText(ev_id): PathText,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(raw.as_deref(), &[])?;
    let ev_id = ev_id.trim().to_string();
    let body = document_of(&state, &ev_id).await?.ok_or_else(|| not_found(&ev_id))?;
    Ok(super::json_response(body))
}

/// The JSON document of one event (what `/api/v1/events/{ev_id}` answers), or
/// `None` when no event has that id or case number. The dashboard's event page
/// reads the same bytes.
pub(crate) async fn document_of(state: &AppState, ev_id: &str) -> Result<Option<Vec<u8>>, ApiError> {
    let plausible = !ev_id.is_empty()
        && ev_id.chars().count() <= MAX_ID_CHARS
        && ev_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plausible {
        return Ok(None);
    }
    // The store's ready JSON document, served as it is. A store whose read is
    // local (SQLite) is read on this thread: cheaper than the hand-over to the
    // blocking pool. PostgreSQL reads the document without a thread (its
    // blocking client would cost two thread hand-overs, which queue for seconds
    // under thousands of connections) and computes a missing one on the pool; a
    // failed read goes the pool's way too, which reports any error properly.
    let found = if state.queries.event_detail_json_is_local() {
        state.queries.event_detail_json(ev_id)?
    } else {
        let ready = match state.queries.event_document_nonblocking(ev_id) {
            Some(read) => read.await.ok(),
            None => None,
        };
        match ready {
            Some(DocumentLookup::Ready(body)) => Some(body),
            Some(DocumentLookup::NoSuchEvent) => None,
            Some(DocumentLookup::Compute) | None => {
                let (id, state) = (ev_id.to_string(), state.clone());
                blocking(move || Ok(state.queries.event_detail_json(&id)?)).await?
            }
        }
    };
    Ok(found)
}

fn not_found(ev_id: &str) -> ApiError {
    let shown: String = ev_id.chars().take(MAX_ID_CHARS).collect();
    ApiError::NotFound(format!("no event with ev_id or case number {shown:?}"))
}
