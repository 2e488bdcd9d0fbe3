//! `/`: the overview: key figures, the yearly trend, top states, makes and
//! phases, the latest events.

use axum::extract::{RawQuery, State};
use maud::{Markup, html};
use ntsb_model::query::{Breakdown, BreakdownRow, EventSummary, Sort};

use super::charts::{Bar, Cell, Point, Table, bars, breakdown_table, columns, figure};
use super::layout::{Page, active_filters, downloads, filter_form, respond, shell};
use super::query::PageQuery;
use super::text::{figure as fig, opt, pct};
use crate::error::ApiError;
use crate::routes::events::page_of;
use crate::routes::stats::{breakdown_of, summary_of};
use crate::state::{AppState, blocking};

/// Rows in each "top" chart.
const TOP: usize = 10;
/// Latest events listed.
const LATEST: usize = 10;

pub(crate) async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Page, ApiError> {
    let q = PageQuery::parse(raw.as_deref())?;
    let filter = q.filter(&state).await?;
    let store = state.store.clone();
    let (summary, years, states, makes, phases, latest, last_load) = tokio::try_join!(
        summary_of(&state, filter.clone()),
        breakdown_of(&state, Breakdown::Year, filter.clone(), 1, crate::routes::stats::MAX_ROWS),
        breakdown_of(&state, Breakdown::State, filter.clone(), 1, TOP),
        breakdown_of(&state, Breakdown::Make, filter.clone(), 1, TOP),
        breakdown_of(&state, Breakdown::Phase, filter.clone(), 1, TOP),
        // `q` is resolved already: the listing gets the filter as it is.
        page_of(&state, filter.clone(), None, Sort::default(), LATEST, None),
        blocking(move || Ok(store.loads(1)?)),
    )?;
    let qr = &q;
    let link = |name: &'static str| move |r: &BreakdownRow| qr.with("/", name, Some(&r.key));
    let years_t = breakdown_table("years", "Events by year", "year", &years, |r| r.key.clone(), None);
    let states_t = breakdown_table("states", "Top states", "state", &states, |r| r.key.clone(), Some(&link("state")));
    let makes_t = breakdown_table("makes", "Top makes", "make", &makes, |r| r.key.clone(), Some(&link("make")));
    let phases_t =
        breakdown_table("phases", "Top phases of flight", "phase", &phases, |r| r.key.clone(), Some(&link("phase")));
    let latest_t = latest_table(&latest.items);
    let tables = [&years_t, &states_t, &makes_t, &phases_t, &latest_t];
    // `2026-12-07T16:31:37.03+00:00` shown as `2026-12-07 16:31 UTC`.
    let last_load = last_load.first().map(|l| {
        let at = l.finished_at.as_deref().unwrap_or(&l.started_at);
        match chrono::DateTime::parse_from_rfc3339(at) {
            Ok(t) => t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M UTC").to_string(),
            Err(_) => at.to_string(),
        }
    });
    respond(&q, "overview", &tables, || {
        let points: Vec<Point> = years.iter().map(|r| Point::of(r.key.clone(), r)).collect();
        let main = html! {
            h1 { "Overview" }
            (active_filters(&q, "/"))
            (filter_form(&q, "/", &[]))
            section aria-labelledby="figures-title" {
                h2 id="figures-title" { "Key figures" }
                dl.figures {
                    div { dt { "Events" } dd id="fig-events" { (fig(summary.events)) } }
                    div { dt { "Accidents" } dd id="fig-accidents" { (fig(summary.accidents)) } }
                    div { dt { "Fatal events" } dd id="fig-fatal-events" { (fig(summary.fatal_events)) } }
                    div { dt { "Fatalities" } dd id="fig-fatalities" { (fig(summary.fatalities)) } }
                    div { dt { "Fatal rate (95% interval)" } dd id="fig-fatal-rate" {
                        data value=(format!("{:.6}", summary.fatal_rate)) { (pct(summary.fatal_rate)) }
                        " (" (pct(summary.fatal_rate_ci95[0])) "–" (pct(summary.fatal_rate_ci95[1])) ")" } }
                    div { dt { "Date range" } dd id="fig-range" {
                        (opt(summary.first_event.as_deref())) " to " (opt(summary.last_event.as_deref())) } }
                    div { dt { "Last load" } dd id="fig-last-load" { (opt(last_load.as_deref())) } }
                }
            }
            section aria-labelledby="trend-title" {
                h2 id="trend-title" { "Yearly trend" }
                (figure("Events per year (fatal in red)", columns("chart-years", "Events per year, fatal events in red", &points), &years_t, &q.csv_href("/", "years")))
                p { a href=(q.href("/trends", &[])) { "More trends: months, seasons, fatal rates with intervals" } }
            }
            div.cols {
                (top("states", "Top states", &states, &states_t, &q, "state"))
                (top("makes", "Top makes", &makes, &makes_t, &q, "make"))
                (top("phases", "Top phases of flight", &phases, &phases_t, &q, "phase"))
            }
            section aria-labelledby="latest-title" {
                h2 id="latest-title" { "Latest events" }
                (latest_t.render())
                p { a href=(q.href("/search", &[])) { "Search these events" } }
            }
            (downloads(&q, "/", &tables))
        };
        shell("Overview", "/", main)
    })
}

fn top(id: &'static str, title: &str, rows: &[BreakdownRow], table: &Table, q: &PageQuery, param: &str) -> Markup {
    let items: Vec<Bar> = rows
        .iter()
        .map(|r| Bar {
            label: r.key.clone(),
            value: r.events,
            part: Some(r.fatal_events),
            href: (r.key != "unknown").then(|| q.with("/", param, Some(&r.key))),
        })
        .collect();
    html! {
        section {
            (figure(title, bars(&format!("chart-{id}"), &format!("{title}: events, fatal events in red"), &items), table, &q.csv_href("/", id)))
        }
    }
}

/// The latest events as a table linking to each event.
pub(crate) fn latest_table(items: &[EventSummary]) -> Table {
    Table {
        id: "latest",
        caption: "Latest events".into(),
        columns: vec!["date", "event", "place", "aircraft", "highest injury", "fatalities"],
        rows: items
            .iter()
            .map(|e| {
                let id = e.ev_id.clone().unwrap_or_default();
                let place = [e.city.as_deref(), e.state.as_deref(), e.country.as_deref()]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(", ");
                let aircraft =
                    [e.make.as_deref(), e.model.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
                vec![
                    Cell::Text(e.event_date.clone().unwrap_or_default()),
                    Cell::Link(format!("/events/{}", super::query::encode_path(&id)), id),
                    Cell::Text(place),
                    Cell::Text(aircraft),
                    Cell::Text(e.highest_injury.clone().unwrap_or_default()),
                    Cell::Int(e.injuries.fatal),
                ]
            })
            .collect(),
    }
}
