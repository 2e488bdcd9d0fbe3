//! `GET /api/v1/events` and `GET /api/v1/events/{ev_id}`.

use std::borrow::Cow;

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use ntsb_model::query::{EventFilter, EventPage, EventQuery, MAX_PAGE, Sort, SortField};
use ntsb_store::DocumentLookup;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use utoipa::IntoParams;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::error::{ApiError, Problem};
use crate::extract::PathText;
use crate::fields::Bounded;
use crate::openapi::{EventDetailBody, EventPageBody};
use crate::params::values::{FilterText, MAX_EVENT_ID_CHARS, is_event_id, show};
use crate::params::{FilterQuery, MAX_TEXT_MATCHES, NoParams, Query, TextQuery};
use crate::state::{AppState, blocking, engine_error};

/// Sorting and paging of the event listing.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Sort order (default `-date`, newest first).
    #[param(inline)]
    pub sort: Option<SortOrder>,
    /// Page size (default 100).
    #[param(inline, example = 50)]
    pub limit: Option<Bounded<1, { MAX_PAGE as i64 }>>,
    /// `next_cursor` of the previous page (same filters and sort).
    #[param(inline)]
    pub cursor: Option<FilterText>,
}

/// Events per page when `limit` is not given.
pub(crate) const DEFAULT_PAGE: usize = 100;

/// An order of an event listing: `date`, `fatalities`, `state` or `make`, with
/// a leading `-` for descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SortOrder(pub Sort);

impl SortOrder {
    /// Every order by its name.
    const NAMED: [(&str, SortField); 4] = [
        ("date", SortField::Date),
        ("fatalities", SortField::Fatalities),
        ("state", SortField::State),
        ("make", SortField::Make),
    ];
}

impl<'de> Deserialize<'de> for SortOrder {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = FilterText::deserialize(deserializer)?.into_string();
        let (descending, key) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let field = Self::NAMED.iter().find(|(name, _)| *name == key).map(|(_, field)| *field).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown sort {}; expected date, fatalities, state or make, with - for descending",
                show(&text)
            ))
        })?;
        Ok(SortOrder(Sort { field, descending }))
    }
}

impl utoipa::PartialSchema for SortOrder {
    fn schema() -> RefOr<Schema> {
        let names = Self::NAMED.iter().flat_map(|(name, _)| [name.to_string(), format!("-{name}")]);
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names)).into()
    }
}

impl utoipa::ToSchema for SortOrder {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Sort")
    }
}

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

/// The store filter of the filter parameters, with `q` resolved (on the blocking pool).
pub(crate) async fn filter_of(
    state: &AppState,
    filter: &FilterQuery,
    text: &TextQuery,
) -> Result<EventFilter, ApiError> {
    let filter = filter.to_filter()?;
    let Some(q) = text.words().map(str::to_string) else { return Ok(filter) };
    let state = state.clone();
    blocking(move || resolve_filter(&state, filter, Some(&q))).await
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events", summary = "List events",
    description = "Events matching every given filter, in `sort` order, one page at a time. Follow \
        `next_cursor` (pass it as `cursor` with the same filters and sort) until it is null; `total` \
        counts every match.",
    params(FilterQuery, TextQuery, ListQuery),
    responses(
        (status = 200, description = "One page of events", body = EventPageBody),
        (status = 400, description = "A parameter is invalid (the problem names it)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Query(filter, text, list): Query<FilterQuery, TextQuery, ListQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let sort = list.sort.map_or_else(Sort::default, |s| s.0);
    let limit = list.limit.map_or(DEFAULT_PAGE, |l| l.get() as usize);
    let cursor = list.cursor.map(FilterText::into_string);
    let q = text.words().map(str::to_string);
    Ok(Json(page_of(&state, filter.to_filter()?, q, sort, limit, cursor).await?))
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
    _: Query<NoParams>,
) -> Result<Response, ApiError> {
    let ev_id = ev_id.trim().to_string();
    let body = document_of(&state, &ev_id).await?.ok_or_else(|| not_found(&ev_id))?;
    Ok(super::json_response(body))
}

/// The JSON document of one event (what `/api/v1/events/{ev_id}` answers), or
/// `None` when no event has that id or case number. The dashboard's event page
/// reads the same bytes.
pub(crate) async fn document_of(state: &AppState, ev_id: &str) -> Result<Option<Vec<u8>>, ApiError> {
    if !is_event_id(ev_id) {
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
    let shown: String = ev_id.chars().take(MAX_EVENT_ID_CHARS).collect();
    ApiError::NotFound(format!("no event with ev_id or case number {shown:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_accepts_a_descending_prefix_and_documents_every_order() {
        let parse = |q: &str| Query::<ListQuery>::parse(Some(q)).map(|q| q.0.sort.map(|s| s.0));
        let expect = |field, descending| Some(Sort { field, descending });
        assert_eq!(parse("sort=-fatalities").unwrap(), expect(SortField::Fatalities, true));
        assert_eq!(parse("sort=date").unwrap(), expect(SortField::Date, false));
        match parse("sort=speed").unwrap_err() {
            ApiError::InvalidParameter { parameter, .. } => assert_eq!(parameter, "sort"),
            other => panic!("{other:?}"),
        }
        let schema = serde_json::to_value(<SortOrder as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["enum"].as_array().unwrap().len(), 8);
        assert_eq!(schema["enum"][1], "-date");
    }
}
