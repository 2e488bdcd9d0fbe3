//! `GET /api/v1/search`: ranked full-text search with snippets, narrowed by the
//! event filters.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use ntsb_model::query::EventFilter;
use ntsb_retrieval::{Field, Mode, rank};
use ntsb_search::{MAX_LIMIT, MAX_OFFSET, SearchOptions, excerpt};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::error::{ApiError, Problem};
use crate::fields::Bounded;
use crate::openapi::SearchPageBody;
use crate::params::values::{FilterText, OneOf};
use crate::params::{FilterQuery, MAX_TEXT_MATCHES, Query};
use crate::state::{AppState, blocking};

/// A plain name for the OpenAPI derive (see [`crate::params::filter`]).
type ModeValue = OneOf<Mode>;

/// The words searched for, paging and ranking.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// Free text over narratives and probable causes.
    #[param(inline, example = "carburetor icing")]
    q: FilterText,
    /// Hits per page (default 20).
    #[param(inline, example = 20)]
    limit: Option<Bounded<1, { MAX_LIMIT as i64 }>>,
    /// Hits to skip.
    #[param(inline, example = 0)]
    offset: Option<Bounded<0, { MAX_OFFSET as i64 }>>,
    /// Ranking: `bm25` (default), `dense` (sentence embeddings) or `hybrid` (both, reciprocal rank fusion).
    #[param(inline, example = "hybrid")]
    mode: Option<ModeValue>,
}

/// Hits per page when `limit` is not given.
const DEFAULT_HITS: usize = 20;

/// Deepest result a dense or hybrid search ranks (offset + limit beyond it are empty).
const DENSE_DEPTH: usize = 1_000;

/// Hits read per round when structured filters must be applied after ranking.
const SCAN_PAGE: usize = 200;

/// One page of search results.
#[derive(Debug, Serialize)]
pub(crate) struct SearchPage {
    pub items: Vec<SearchItem>,
    pub total: u64,
    /// The ranking used: `bm25`, `dense` or `hybrid`.
    pub mode: &'static str,
    /// Why the ranking differs from the one asked for (no vectors), or what the
    /// vectors cover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
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

#[utoipa::path(get, path = "/api/v1/search", tag = "search", summary = "Full-text, dense and hybrid search",
    description = "Ranks narratives and probable causes. `mode=bm25` (default): BM25, probable cause \
        boosted, HTML-escaped snippets with matches in `<mark>`; any text is accepted: events with every \
        word first, then the best partial matches, `\"a phrase\"`, `-word` excludes, `+word` requires. \
        `mode=dense`: cosine similarity of all-MiniLM-L6-v2 sentence embeddings of the query and of each \
        event's text chunks (best chunk per event; the snippet is that chunk). `mode=hybrid`: both \
        rankings fused by reciprocal rank (k = 60, 100 candidates each). Dense and hybrid rank at most \
        1,000 events (`total`). The event filters narrow every mode before ranking or fusion. Without \
        vectors (`serve --embedding-model` and `ntsb index embed`) dense and hybrid answer by BM25: \
        `mode` says which ranking answered and `notice` why.",
    params(SearchQuery, FilterQuery),
    responses(
        (status = 200, description = "Ranked hits", body = SearchPageBody),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn search(
    State(state): State<AppState>,
    Query(search, filter, _): Query<SearchQuery, FilterQuery>,
) -> Result<Json<SearchPage>, ApiError> {
    let q = search.q.into_string();
    let limit = search.limit.map_or(DEFAULT_HITS, |l| l.get() as usize);
    let offset = search.offset.map_or(0, |o| o.get() as usize);
    let filter = filter.to_filter()?;
    let mode = search.mode.map_or(Mode::Bm25, OneOf::get);
    let page = blocking(move || match mode {
        Mode::Bm25 => run(&state, &q, filter, limit, offset),
        Mode::Dense | Mode::Hybrid => run_ranked(&state, &q, mode, filter, limit, offset),
    })
    .await?;
    Ok(Json(page))
}

/// A dense or hybrid search: the filter becomes the set of allowed events, each
/// ranking keeps only those, then they are fused.
pub(crate) fn run_ranked(
    state: &AppState,
    q: &str,
    mode: Mode,
    filter: EventFilter,
    limit: usize,
    offset: usize,
) -> Result<SearchPage, ApiError> {
    let allowed = if filter == EventFilter::default() {
        None
    } else {
        let mut set = HashSet::new();
        state.queries.export_events(&filter, &mut |e| {
            set.insert(e.event_id);
            Ok(())
        })?;
        Some(set)
    };
    let ranking = rank(&state.index, state.dense.as_deref(), q, mode, DENSE_DEPTH, allowed.as_ref())?;
    if ranking.mode == Mode::Bm25 && mode != Mode::Bm25 {
        // No vectors: the full-text search, with its snippets and exact total.
        let page = run(state, q, filter, limit, offset)?;
        return Ok(SearchPage { notice: ranking.notice, ..page });
    }
    let total = ranking.hits.len() as u64;
    let mut items = Vec::with_capacity(limit);
    for hit in ranking.hits.into_iter().skip(offset).take(limit) {
        let Some(doc) = state.index.document(hit.event_id)? else { continue };
        let snippet = match hit.chunk {
            Some(c) => {
                let text = match c.field {
                    Field::Narrative => &doc.narrative,
                    Field::ProbableCause => &doc.probable_cause,
                };
                excerpt(text.get(c.start as usize..c.end as usize).unwrap_or(text))
            }
            None if doc.probable_cause.trim().is_empty() => excerpt(&doc.narrative),
            None => excerpt(&doc.probable_cause),
        };
        items.push(SearchItem {
            ev_id: doc.ev_id,
            ntsb_no: doc.ntsb_no,
            event_date: doc.event_date,
            score: hit.score,
            snippet,
        });
    }
    Ok(SearchPage { items, total, mode: ranking.mode.as_str(), notice: ranking.notice })
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
        return Ok(SearchPage {
            items: results.hits.into_iter().map(item).collect(),
            total: results.total,
            mode: "bm25",
            notice: None,
        });
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
    Ok(SearchPage { items, total, mode: "bm25", notice: None })
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
