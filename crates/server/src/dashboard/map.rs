//! `/map`: choropleths of U.S. states and of countries (events or fatal rate,
//! `metric=events|fatal_rate`) with the filtered events as points, drawn as
//! SVG from outlines inside the binary: no tiles, no third party, offline.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use maud::{Markup, html};
use ntsb_model::query::{Breakdown, BreakdownRow, EventSummary};
use ntsb_model::vocab::Vocabulary;
use serde::Deserialize;
use utoipa::IntoParams;

use super::charts::{Table, breakdown_table, figure, fmt};
use super::geo::{Shape, WORLD_FRAME, countries, postal_code, us_point, us_states, world_point};
use super::layout::{Page, active_filters, downloads, filter_form, respond, shell};
use super::overview::latest_table;
use super::query::PageQuery;
use super::text::{Text, int, pct};
use crate::error::ApiError;
use crate::params::values::OneOf;
use crate::routes::geo::geo_events_of;
use crate::routes::stats::{MAX_ROWS, breakdown_of};
use crate::state::AppState;

/// Points drawn (newest first): the API's default for `/api/v1/geo/events`.
const POINTS: usize = 1000;

/// Sequential blues, light to dark; no data is grey.
const SCALE: [&str; 6] = ["#e3eef9", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];
const NO_DATA: &str = "#f2f4f7";
const POINT: &str = "#b42318";

/// What the choropleths colour by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Events,
    FatalRate,
}

impl Vocabulary for Metric {
    const ALL: &'static [Metric] = &[Metric::Events, Metric::FatalRate];

    fn canonical(self) -> &'static str {
        match self {
            Metric::Events => "events",
            Metric::FatalRate => "fatal_rate",
        }
    }
}

/// A plain name for the OpenAPI derive (see [`crate::params::filter`]).
type MetricValue = OneOf<Metric>;

/// The map page's own parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct MapQuery {
    /// `events` (default) or `fatal_rate`.
    metric: Option<MetricValue>,
}

impl Metric {
    fn value(self, r: &BreakdownRow) -> f64 {
        match self {
            Metric::Events => r.events as f64,
            Metric::FatalRate => r.fatal_rate,
        }
    }
    fn show(self, v: f64) -> String {
        match self {
            Metric::Events => int(v.round() as u64),
            Metric::FatalRate => pct(v),
        }
    }
}

pub(crate) async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Page, ApiError> {
    let (q, own) = PageQuery::parse_with::<MapQuery>(raw.as_deref())?;
    let metric = own.metric.map_or(Metric::Events, OneOf::get);
    let filter = q.filter(&state).await?;
    let (states, countries_rows, points) = tokio::try_join!(
        breakdown_of(&state, Breakdown::State, filter.clone(), 1, MAX_ROWS),
        breakdown_of(&state, Breakdown::Country, filter.clone(), 1, MAX_ROWS),
        geo_events_of(&state, filter.clone(), POINTS),
    )?;
    let qr = &q;
    let state_link = move |r: &BreakdownRow| qr.with("/map", "state", Some(&r.key));
    let country_link = move |r: &BreakdownRow| qr.with("/map", "country", Some(&r.key));
    let states_t = breakdown_table("states", "By state", "state", &states, |r| r.key.clone(), Some(&state_link));
    let countries_t =
        breakdown_table("countries", "By country", "country", &countries_rows, |r| r.key.clone(), Some(&country_link));
    let mut points_t = latest_table(&points);
    points_t.id = "points";
    points_t.caption = format!("Events drawn as points (newest {POINTS} with coordinates)");
    let tables: [&Table; 3] = [&states_t, &countries_t, &points_t];
    respond(&q, "map", &tables, || {
        let by_state: HashMap<&str, &BreakdownRow> = states.iter().map(|r| (r.key.as_str(), r)).collect();
        let by_country = country_rows(&countries_rows);
        let us = choropleth(
            "map-us",
            "Events by U.S. state",
            (975.0, 610.0),
            us_states(),
            &|s: &Shape| postal_code(&s.id).and_then(|c| by_state.get(c).copied()),
            &|s: &Shape| postal_code(&s.id).map(|c| q.with("/map", "state", Some(c))),
            metric,
            &points.iter().filter_map(|e| Some((us_point(e.longitude?, e.latitude?)?, e))).collect::<Vec<_>>(),
        );
        let world = choropleth(
            "map-world",
            "Events by country",
            WORLD_FRAME,
            countries(),
            &|s: &Shape| by_country.get(s.name.to_ascii_lowercase().as_str()).copied(),
            &|_| None,
            metric,
            &points.iter().filter_map(|e| Some((world_point(e.longitude?, e.latitude?), e))).collect::<Vec<_>>(),
        );
        let metric_link = |m: &str| q.with("/map", "metric", if m == "events" { None } else { Some(m) });
        let main = html! {
            h1 { "Map" }
            (active_filters(&q, "/map"))
            (filter_form(&q, "/map", &["metric"]))
            p.switch {
                "Colour by: "
                @if metric == Metric::Events { strong aria-current="true" { "events" } } @else { a href=(metric_link("events")) { "events" } }
                " · "
                @if metric == Metric::FatalRate { strong aria-current="true" { "fatal rate" } } @else { a href=(metric_link("fatal_rate")) { "fatal rate" } }
                ". Red dots are the newest " (POINTS) " events with coordinates; select a state to filter by it."
            }
            (figure("U.S. states", us, &states_t, &q.csv_href("/map", "states")))
            (figure("World", world, &countries_t, &q.csv_href("/map", "countries")))
            section aria-labelledby="points-title" {
                h2 id="points-title" { "Events drawn as points" }
                p { a href=(q.href("/api/v1/geo/events", &[("limit", "1000")])) { "These points as GeoJSON" } }
                details { summary { "Table of the points" } (points_t.render()) }
            }
            (downloads(&q, "/map", &tables))
        };
        shell("Map", "/map", main)
    })
}

/// Country rows by the lower-case name the world outlines use (the sources
/// spell the United States several ways; the others match by name).
fn country_rows(rows: &[BreakdownRow]) -> HashMap<String, &BreakdownRow> {
    let mut out: HashMap<String, &BreakdownRow> = HashMap::new();
    for r in rows {
        let name = if ntsb_model::normalize::is_united_states(&r.key) {
            "united states of america".to_string()
        } else {
            r.key.to_ascii_lowercase()
        };
        // Two spellings of one country: keep the larger (the map shows one).
        match out.get(&name) {
            Some(prev) if prev.events >= r.events => {}
            _ => {
                out.insert(name, r);
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn choropleth<'r>(
    id: &str,
    title: &str,
    (w, h): (f64, f64),
    shapes: &[Shape],
    row: &dyn Fn(&Shape) -> Option<&'r BreakdownRow>,
    link: &dyn Fn(&Shape) -> Option<String>,
    metric: Metric,
    points: &[((f64, f64), &EventSummary)],
) -> Markup {
    let max = shapes.iter().filter_map(row).map(|r| metric.value(r)).fold(0.0, f64::max);
    let class = |v: f64| -> usize {
        if max <= 0.0 {
            return 0;
        }
        // Counts are skewed: a square-root scale keeps the small ones apart.
        let t = match metric {
            Metric::Events => (v / max).sqrt(),
            Metric::FatalRate => v / max,
        };
        ((t * SCALE.len() as f64).ceil() as usize).clamp(1, SCALE.len()) - 1
    };
    let title_id = format!("{id}-title");
    html! {
        // A group, not an image: its regions are links (an image's content is presentational).
        svg.map id=(id) viewBox=(format!("0 0 {w} {h}")) role="group" aria-labelledby=(title_id) {
            title id=(title_id) { (title) }
            @for s in shapes {
                @let r = row(s);
                @let fill = r.map_or(NO_DATA, |r| SCALE[class(metric.value(r))]);
                @let label = match r {
                    Some(r) => format!("{}: {} events, fatal rate {}", s.name, int(r.events), pct(r.fatal_rate)),
                    None => format!("{}: no events", s.name),
                };
                @match link(s) {
                    Some(href) => { a href=(href) { path d=(s.path) fill=(fill) stroke="#ffffff" stroke-width="0.5" fill-rule="evenodd" { title { (Text(&label)) } } } },
                    None => { path d=(s.path) fill=(fill) stroke="#ffffff" stroke-width="0.5" fill-rule="evenodd" { title { (Text(&label)) } } },
                }
            }
            g.points {
                @for ((x, y), e) in points {
                    circle cx=(fmt(*x)) cy=(fmt(*y)) r="2.2" fill=(POINT) fill-opacity="0.7" {
                        title { (Text(e.ev_id.as_deref().unwrap_or(""))) " " (Text(e.event_date.as_deref().unwrap_or("")))
                            " " (Text(e.city.as_deref().unwrap_or(""))) " " (Text(e.make.as_deref().unwrap_or(""))) }
                    }
                }
            }
            (legend(w, h, max, metric))
        }
    }
}

fn legend(w: f64, h: f64, max: f64, metric: Metric) -> Markup {
    let steps = SCALE.len();
    let bound = |k: usize| -> f64 {
        let t = k as f64 / steps as f64;
        match metric {
            Metric::Events => max * t * t,
            Metric::FatalRate => max * t,
        }
    };
    let x0 = w - 20.0 - 28.0 * steps as f64;
    html! {
        g.legend {
            @for (k, colour) in SCALE.iter().enumerate() {
                rect x=(fmt(x0 + 28.0 * k as f64)) y=(fmt(h - 24.0)) width="28" height="10" fill=(colour) {
                    title { (metric.show(bound(k))) " – " (metric.show(bound(k + 1))) }
                }
            }
            text x=(fmt(x0)) y=(fmt(h - 28.0)) fill="#1d2939" { "0" }
            text x=(fmt(x0 + 28.0 * steps as f64)) y=(fmt(h - 28.0)) text-anchor="end" fill="#1d2939" { (metric.show(max)) }
        }
    }
}
