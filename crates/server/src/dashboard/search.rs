//! `/search?q=`: ranked full-text search over narratives and probable causes,
//! narrowed by the event filters, with highlighted snippets, paging and a
//! link to each event. The same search the API's `/api/v1/search` runs.

use axum::extract::{RawQuery, State};
use maud::html;
use serde::Deserialize;
use utoipa::IntoParams;

use super::charts::{Cell, Table};
use super::layout::{Page, active_filters, downloads, filter_form, respond, shell};
use super::query::{PageQuery, encode_path};
use super::text::{Text, int, opt, snippet};
use crate::error::ApiError;
use crate::fields::Bounded;
use crate::routes::search::{SearchPage, run};
use crate::state::{AppState, blocking};

/// The search page's own parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct SearchPageQuery {
    /// Results to skip.
    offset: Option<Bounded<0, { ntsb_search::MAX_OFFSET as i64 }>>,
}

/// Results per page.
const PER_PAGE: usize = 20;

pub(crate) async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Page, ApiError> {
    let (q, own) = PageQuery::parse_with::<SearchPageQuery>(raw.as_deref())?;
    let offset = own.offset.map_or(0, |o| o.get() as usize);
    let text = q.words().map(str::to_string);
    let filter = q.structured_filter()?;
    let results: Option<SearchPage> = match text.clone() {
        Some(text) => {
            let state = state.clone();
            Some(blocking(move || run(&state, &text, filter, PER_PAGE, offset)).await?)
        }
        None => None,
    };
    let hits = results.as_ref().map_or(&[][..], |r| &r.items[..]);
    let table = Table {
        id: "results",
        caption: "Search results".into(),
        columns: vec!["event", "case number", "date", "score"],
        rows: hits
            .iter()
            .map(|h| {
                let id = h.ev_id.clone().unwrap_or_default();
                vec![
                    Cell::Link(format!("/events/{}", encode_path(&id)), id),
                    Cell::Text(h.ntsb_no.clone().unwrap_or_default()),
                    Cell::Text(h.event_date.clone().unwrap_or_default()),
                    Cell::Text(format!("{:.3}", h.score)),
                ]
            })
            .collect(),
    };
    let tables = [&table];
    respond(&q, "search", &tables, || {
        let total = results.as_ref().map_or(0, |r| r.total);
        let prev = offset.checked_sub(PER_PAGE).map(|o| o.to_string());
        let next = (offset + hits.len() < total as usize).then(|| (offset + PER_PAGE).to_string());
        let main = html! {
            h1 { "Search" }
            (active_filters(&q, "/search"))
            (filter_form(&q, "/search", &[]))
            @match &results {
                None => p { "Type words to search the narratives and probable causes: all words must match; "
                    "use \"a phrase\", OR, -word and parentheses." },
                Some(_) => {
                    p id="result-count" role="status" {
                        (figure_count(total)) " matching events"
                        @if total > 0 { ", " (offset + 1) "–" (offset + hits.len()) " shown" }
                        "."
                    }
                    ol.results start=(offset + 1) {
                        @for h in hits {
                            @let id = h.ev_id.clone().unwrap_or_default();
                            li {
                                h2 { a href=(format!("/events/{}", encode_path(&id))) { (Text(&id)) } }
                                p.meta { (opt(h.event_date.as_deref())) " · case " (opt(h.ntsb_no.as_deref())) }
                                p.snippet { (snippet(&h.snippet)) }
                            }
                        }
                    }
                    nav.pager aria-label="Result pages" {
                        @if let Some(p) = &prev { a rel="prev" href=(q.with("/search", "offset", Some(p))) { "← Previous" } }
                        " "
                        @if let Some(n) = &next { a rel="next" href=(q.with("/search", "offset", Some(n))) { "Next →" } }
                    }
                }
            }
            (downloads(&q, "/search", &tables))
        };
        shell("Search", "/search", main)
    })
}

fn figure_count(n: u64) -> maud::Markup {
    html! { data value=(n) { (int(n)) } }
}
