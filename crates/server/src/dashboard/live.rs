//! `/live` (signed-in visitors): changes to events as they arrive, filtered by
//! the page's event filters.
//!
//! Without JavaScript the page lists the latest changes of the store's change
//! log that match the filters (read when the page is rendered; reloading shows
//! newer ones). With it, `dashboard.js` follows the live feed's Server-Sent
//! Events (`GET /api/v1/stream/events`) from the position the page was
//! rendered at, so nothing between the two is missed, and adds each change at
//! the top. A browser's `EventSource` cannot send credential headers, so the
//! script first asks `POST /live/ticket` (this visitor's session cookie and
//! the page's CSRF token) for a short-lived, single-use stream ticket, as the
//! API's `POST /api/v1/stream/tickets` issues them, and passes it as
//! `?ticket=`; after a disconnect it asks for a new one and resumes after the
//! last position it showed. The script is the same-origin file of every page:
//! the Content-Security-Policy stays strict.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use ntsb_model::query::{EventFilter, EventQuery, MAX_PAGE};
use ntsb_store::Change;

use super::layout::{Page, active_filters, filter_form, shell};
use super::query::{PageQuery, encode_path, with_query};
use super::session::Visitor;
use super::text::Text;
use crate::error::ApiError;
use crate::state::{AppState, blocking};

/// Changes of the log read for the server-rendered list (the newest).
const WINDOW: usize = 1000;

/// Changes listed at most.
pub(crate) const SHOWN: usize = 50;

pub(crate) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = PageQuery::parse(raw.as_deref())?;
    if q.get("q").is_some() {
        return Err(ApiError::invalid("q", "full-text search is not a live filter; use the structured filters"));
    }
    let filter = q.structured_filter()?;
    let st = state.clone();
    let f = filter.clone();
    let (head, latest) = blocking(move || latest_changes(&st, &f)).await?;
    let running = state.live.is_some();
    // The stream of the same filters, from the position this list was read at.
    let stream = with_query(
        "/api/v1/stream/events",
        &super::query::encode(q.filters.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    );
    let csrf = state.auth.as_ref().map(|a| a.csrf_for_session(&visitor.token)).unwrap_or_default();
    let main = html! {
        h1 { "Live changes" }
        (active_filters(&q, "/live"))
        (filter_form(&q, "/live", &[]))
        @if running {
            p id="live-status" role="status" aria-live="polite" {
                "The newest " (SHOWN) " changes to matching events when this page was made. Reload to see newer ones "
                "(with JavaScript, new changes appear at the top as they arrive)."
            }
        } @else {
            p.error id="live-status" role="status" { "The live feed is not running on this server; this list is as of this page's making." }
        }
        div id="live-feed" data-stream=[running.then_some(stream.as_str())] data-since=(head) data-csrf=(csrf) data-shown=(SHOWN) {
            (changes_table(&latest))
        }
        p { a href=(q.href("/api/v1/stream/events", &[])) { "This feed for programs (Server-Sent Events, needs an API key or a stream ticket)" } }
    };
    Ok(Page::Html(shell("Live", "/live", main)).into_response_no_store())
}

/// The newest matching changes (newest first, at most [`SHOWN`]) of the last
/// [`WINDOW`] in the log, and the log's position they were read at. A filter
/// is applied to the events as they are now (as the feed applies it when a
/// change is published); a deleted event matches only when there is no filter.
fn latest_changes(state: &AppState, filter: &EventFilter) -> Result<(u64, Vec<Change>), ApiError> {
    let head = state.store.change_log_head()?;
    let mut changes = state.store.changes(head.saturating_sub(WINDOW as u64), WINDOW)?;
    changes.reverse();
    if *filter != EventFilter::default() {
        let ids: Vec<i64> = changes.iter().map(|c| c.event_id).collect::<HashSet<_>>().into_iter().collect();
        let mut matching = HashSet::new();
        for chunk in ids.chunks(MAX_PAGE) {
            let query = EventQuery {
                filter: EventFilter { event_ids: Some(chunk.to_vec()), ..filter.clone() },
                limit: MAX_PAGE,
                ..EventQuery::default()
            };
            matching.extend(state.queries.list_events_uncounted(&query)?.items.into_iter().map(|e| e.event_id));
        }
        changes.retain(|c| matching.contains(&c.event_id));
    }
    changes.truncate(SHOWN);
    Ok((head, changes))
}

fn changes_table(changes: &[Change]) -> Markup {
    html! {
        div.table-wrap {
            table id="table-live" {
                caption { "Latest changes, newest first" }
                thead { tr { th scope="col" { "position" } th scope="col" { "change" } th scope="col" { "event" } th scope="col" { "fields" } th scope="col" { "when" } } }
                tbody id="live-rows" {
                    @for c in changes {
                        tr data-seq=(c.seq) {
                            th scope="row" { (c.seq) }
                            td { (c.kind.as_str()) }
                            td {
                                @let gone = c.kind == ntsb_store::ChangeKind::Deleted;
                                @match &c.ev_id {
                                    Some(id) => {
                                        @if gone { (Text(id)) } @else { a href=(format!("/events/{}", encode_path(id))) { (Text(id)) } }
                                    },
                                    None => (Text(c.ntsb_no.as_deref().unwrap_or(""))),
                                }
                            }
                            td { (Text(&c.fields.join(", "))) }
                            td { (Text(&c.changed_at)) }
                        }
                    }
                    @if changes.is_empty() {
                        tr id="live-empty" { td colspan="5" { "No change to a matching event yet." } }
                    }
                }
            }
        }
    }
}

/// `POST /live/ticket`: a stream ticket for the signed-in visitor (CSRF-checked
/// like every form post of the dashboard), as JSON `{"ticket": …}`.
pub(crate) async fn ticket(State(state): State<AppState>, visitor: Visitor) -> Result<Response, ApiError> {
    let live = state
        .live
        .clone()
        .ok_or_else(|| ApiError::Unavailable("the live feed is not running on this server".into()))?;
    let ticket = live.issue_ticket(&visitor.principal)?;
    let mut res = (StatusCode::CREATED, Json(serde_json::json!({ "ticket": ticket }))).into_response();
    res.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(res)
}
