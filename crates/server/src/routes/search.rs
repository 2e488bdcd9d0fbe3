//! `GET /api/v1/search`: ranked full-text search with snippets, narrowed by the
//! event filters.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{RawQuery, State};
use ntsb_model::query::EventFilter;
use ntsb_search::{MAX_LIMIT, MAX_OFFSET, SearchOptions};
use serde::Serialize;

use crate::error::{ApiError, Problem};
use crate::openapi::{FilterParams, SearchPageBody, SearchParams};
use crate::params::{FILTER_PARAMS, MAX_TEXT_MATCHES, Params};
use crate::state::{AppState, blocking};

pub(crate) const SEARCH_PARAMS: &[&str] = &["limit", "offset"];

/// Hits read per round when structured filters must be applied after ranking.
const SCAN_PAGE: usize = 200;

/// One page of search results.
#[derive(Debug, Serialize)]
pub(crate) struct SearchPage {
    pub items: Vec<SearchItem>,
    pub total: u64,
}

/// One ranked event.
#[derive(Debug, Serialize)]
pub(crate) struct SearchItem {
    pub ev_id: Option<String>,
    pub ntsb_no: Option<String>,
    pub event_date: Option<String>,
    pub score: f32,
    pub snippet: String,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "search", summary = "Full-text search",
    description = "Ranks narratives and probable causes (BM25, probable cause boosted) and returns \
        HTML-escaped snippets with matches in `<mark>`. Any text is accepted: words are all required, \
        `\"a phrase\"`, `OR`, `-word`, parentheses; text that is not valid syntax is searched as plain \
        words. The event filters narrow the results.",
    params(SearchParams, FilterParams),
    responses(
        (status = 200, description = "Ranked hits", body = SearchPageBody),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn search(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchPage>, ApiError> {
    let p = Params::parse(raw.as_deref(), &[FILTER_PARAMS, SEARCH_PARAMS])?;
    let q = p.q()?.ok_or_else(|| ApiError::invalid("q", "is required"))?;
    let limit = p.limit(20, MAX_LIMIT)?;
    let offset = p.int("offset", 0..=MAX_OFFSET as i64)?.unwrap_or(0) as usize;
    let filter = p.event_filter()?;
    let page = blocking(move || run(&state, &q, filter, limit, offset)).await?;
    Ok(Json(page))
}

pub(crate) fn run(
    state: &AppState,
    q: &str,
    filter: EventFilter,
    limit: usize,
    offset: usize,
) -> Result<SearchPage, ApiError> {
    // Only a year (or nothing) to filter by: the index filters natively.
    let year_only = EventFilter { year: None, ..filter.clone() } == EventFilter::default();
    if year_only {
        let y = filter.year.map(i64::from);
        let opts = SearchOptions { limit, offset, year_from: y, year_to: y };
        let results = state.index.search(q, &opts)?;
        return Ok(SearchPage { items: results.hits.into_iter().map(item).collect(), total: results.total });
    }
    // Otherwise: the events that match both (exact total), then the ranked hits
    // walked in order, keeping those in the set.
    let ranked = state.index.search_ids(q, MAX_TEXT_MATCHES)?;
    let filter = EventFilter { event_ids: Some(ranked.iter().map(|(id, _)| *id).collect()), ..filter };
    let mut allowed = HashSet::new();
    state.queries.export_events(&filter, &mut |e| {
        allowed.insert(e.event_id);
        Ok(())
    })?;
    let total = allowed.len() as u64;
    let mut items = Vec::with_capacity(limit);
    let mut skipped = 0;
    let mut scanned = 0;
    while items.len() < limit && scanned <= MAX_OFFSET && skipped + items.len() < allowed.len() {
        let opts = SearchOptions { limit: SCAN_PAGE, offset: scanned, year_from: None, year_to: None };
        let results = state.index.search(q, &opts)?;
        if results.hits.is_empty() {
            break;
        }
        scanned += results.hits.len();
        for hit in results.hits {
            if !allowed.contains(&hit.event_id) {
                continue;
            }
            if skipped < offset {
                skipped += 1;
            } else if items.len() < limit {
                items.push(item(hit));
            }
        }
    }
    Ok(SearchPage { items, total })
}

fn item(hit: ntsb_search::Hit) -> SearchItem {
    SearchItem {
        ev_id: hit.ev_id,
        ntsb_no: hit.ntsb_no,
        event_date: hit.event_date,
        score: hit.score,
        snippet: hit.snippet,
    }
}
