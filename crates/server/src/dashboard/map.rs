//! `/map`: choropleths of U.S. states and of countries (events or fatal rate,
//! `metric=events|fatal_rate`) with the filtered events as points, drawn as
//! SVG from outlines inside the binary: no tiles, no third party, offline.
//!
//! The U.S. map zooms and pans: `zoom` (1, 2, 4 or 8) and the centre `cx`,
//! `cy` (in the map's 975 × 610 frame) are parameters of the view like the
//! filters, so the controls are plain links (keyboard, no JavaScript, back and
//! forward) and the server draws the chosen window as the SVG's `viewBox`;
//! `dashboard.js` only changes the `viewBox` in place and pushes the same URL.
//! Each point links to its event; with JavaScript a click opens a popup with
//! the event's facts instead.

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
use super::text::{Text, clean, int, pct};
use crate::error::ApiError;
use crate::fields::Bounded;
use crate::params::values::{Decimal, OneOf, decimal_range};
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

decimal_range!(
    /// Across the U.S. map's frame.
    FrameXRange, 0.0 ..= 975.0
);
decimal_range!(
    /// Down the U.S. map's frame.
    FrameYRange, 0.0 ..= 610.0
);
// Plain names for the OpenAPI derive (see [`crate::params::filter`]).
type FrameX = Decimal<FrameXRange>;
type FrameY = Decimal<FrameYRange>;

/// The map page's own parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct MapQuery {
    /// `events` (default) or `fatal_rate`.
    metric: Option<MetricValue>,
    /// Zoom level: 1, 2, 4 or 8.
    zoom: Option<Bounded<1, 8>>,
    /// Centre of the window across the frame (default its middle).
    cx: Option<FrameX>,
    /// Centre of the window down the frame (default its middle).
    cy: Option<FrameY>,
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
    let view = View::of(&own)?;
    let metric = own.metric.map_or(Metric::Events, OneOf::get);
    let filter = q.filter(&state).await?;
    let (states, countries_rows, points) = tokio::try_join!(
        breakdown_of(&state, Breakdown::State, filter.clone(), 1, MAX_ROWS),
        breakdown_of(&state, Breakdown::Country, filter.clone(), 1, MAX_ROWS),
        geo_events_of(&state, filter.clone(), POINTS),
    )?;
    let qr = &q;
    let us_frame = US_FRAME;
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
            us_frame,
            Some(&view),
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
            None,
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
            (filter_form(&q, "/map", &["metric", "zoom", "cx", "cy"]))
            p.switch {
                "Colour by: "
                @if metric == Metric::Events { strong aria-current="true" { "events" } } @else { a href=(metric_link("events")) { "events" } }
                " · "
                @if metric == Metric::FatalRate { strong aria-current="true" { "fatal rate" } } @else { a href=(metric_link("fatal_rate")) { "fatal rate" } }
                ". Red dots are the newest " (POINTS) " events with coordinates; select a state to filter by it."
            }
            (zoom_controls(&q, &view))
            (figure("U.S. states", us, &states_t, &q.csv_href("/map", "states")))
            div id="map-popup" hidden role="dialog" aria-label="Event" {}
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

/// The U.S. map's frame (d3's Albers USA at its default scale).
const US_FRAME: (f64, f64) = (975.0, 610.0);

/// Zoom levels.
const ZOOMS: [u32; 4] = [1, 2, 4, 8];

/// The window of the U.S. map the view shows.
#[derive(Debug, Clone, Copy, PartialEq)]
struct View {
    zoom: u32,
    cx: f64,
    cy: f64,
}

impl View {
    fn of(own: &MapQuery) -> Result<View, ApiError> {
        let zoom = match own.zoom.map(|z| z.get() as u32) {
            None => 1,
            Some(z) if ZOOMS.contains(&z) => z,
            Some(z) => return Err(ApiError::invalid("zoom", format!("expected 1, 2, 4 or 8, got {z}"))),
        };
        let cx = own.cx.map_or(US_FRAME.0 / 2.0, Decimal::get);
        let cy = own.cy.map_or(US_FRAME.1 / 2.0, Decimal::get);
        Ok(View { zoom, cx, cy }.clamped())
    }

    /// The centre moved so the window stays inside the frame.
    fn clamped(self) -> View {
        let (w, h) = self.size();
        View {
            cx: self.cx.clamp(w / 2.0, US_FRAME.0 - w / 2.0),
            cy: self.cy.clamp(h / 2.0, US_FRAME.1 - h / 2.0),
            ..self
        }
    }

    fn size(self) -> (f64, f64) {
        (US_FRAME.0 / self.zoom as f64, US_FRAME.1 / self.zoom as f64)
    }

    /// The SVG `viewBox` of the window.
    fn view_box(self) -> String {
        let (w, h) = self.size();
        format!("{} {} {} {}", fmt(self.cx - w / 2.0), fmt(self.cy - h / 2.0), fmt(w), fmt(h))
    }

    /// The link to the view `v`, the other parameters kept (defaults left out).
    fn href(q: &PageQuery, v: View) -> String {
        let v = v.clamped();
        let keep: Vec<(&str, &str)> = q
            .filters
            .iter()
            .chain(&q.extras)
            .filter(|(k, _)| !["zoom", "cx", "cy"].contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (zoom, cx, cy) = (v.zoom.to_string(), fmt(v.cx), fmt(v.cy));
        let mut pairs = keep;
        if v.zoom != 1 {
            pairs.extend([("zoom", zoom.as_str()), ("cx", cx.as_str()), ("cy", cy.as_str())]);
        }
        super::query::with_query("/map", &super::query::encode(pairs.into_iter()))
    }
}

/// Zoom and pan links for the U.S. map: they work without JavaScript and
/// with the keyboard; `dashboard.js` applies them in place.
fn zoom_controls(q: &PageQuery, v: &View) -> Markup {
    let (w, h) = v.size();
    let zin = View { zoom: (v.zoom * 2).min(8), ..*v };
    let zout = View { zoom: (v.zoom / 2).max(1), ..*v };
    let pan = |dx: f64, dy: f64| View { cx: v.cx + dx * w / 2.0, cy: v.cy + dy * h / 2.0, ..*v };
    // Every control is a link, so the script can move the view in place and
    // keep them current; one that would not change the view is marked off.
    let link = |id: &str, label: &str, text: &str, to: View| {
        let to = to.clamped();
        let off = to == *v;
        html! {
            a.zoom.zoom-off[off] id=(id) href=(View::href(q, to)) title=(label) aria-label=(label)
                aria-disabled=[off.then_some("true")] data-zoom=(to.zoom) data-cx=(fmt(to.cx)) data-cy=(fmt(to.cy)) { (text) }
        }
    };
    html! {
        nav.zoom-controls aria-label="Zoom and pan the U.S. map" id="map-us-controls" data-map="map-us" {
            (link("zoom-in", "Zoom in", "+", zin))
            (link("zoom-out", "Zoom out", "−", zout))
            (link("pan-west", "Pan west", "←", pan(-1.0, 0.0)))
            (link("pan-north", "Pan north", "↑", pan(0.0, -1.0)))
            (link("pan-south", "Pan south", "↓", pan(0.0, 1.0)))
            (link("pan-east", "Pan east", "→", pan(1.0, 0.0)))
            (link("zoom-reset", "Whole map", "Whole map", View { zoom: 1, cx: US_FRAME.0 / 2.0, cy: US_FRAME.1 / 2.0 }))
            span.zoom-level id="zoom-level" { "Zoom ×" (v.zoom) }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn choropleth<'r>(
    id: &str,
    title: &str,
    (w, h): (f64, f64),
    view: Option<&View>,
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
    let zoom = view.map_or(1, |v| v.zoom);
    // Points keep their size on screen when zoomed.
    let radius = fmt(2.2 / zoom as f64);
    html! {
        // A group, not an image: its regions are links (an image's content is presentational).
        svg.map id=(id) viewBox=(view.map_or_else(|| format!("0 0 {w} {h}"), |v| v.view_box())) role="group" aria-labelledby=(title_id)
            data-frame=(format!("{w} {h}")) data-zoom=(zoom) {
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
                    @let ev_id = e.ev_id.as_deref().unwrap_or("");
                    @let place = [e.city.as_deref(), e.state.as_deref(), e.country.as_deref()].into_iter().flatten()
                        .filter(|p| !p.trim().is_empty()).collect::<Vec<_>>().join(", ");
                    @let aircraft = [e.make.as_deref(), e.model.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
                    // Points are reached by keyboard through the table of the points below the map.
                    a.pt href=(format!("/events/{}", super::query::encode_path(ev_id))) tabindex="-1"
                        // Data attributes are text for the popup: control characters replaced as in Text.
                        data-ev=(clean(ev_id)) data-date=(clean(e.event_date.as_deref().unwrap_or(""))) data-place=(clean(&place))
                        data-aircraft=(clean(&aircraft)) data-injury=(clean(e.highest_injury.as_deref().unwrap_or(""))) data-fatal=(e.injuries.fatal) {
                        title { (Text(ev_id)) " " (Text(e.event_date.as_deref().unwrap_or(""))) " " (Text(&place)) " " (Text(&aircraft)) }
                        circle cx=(fmt(*x)) cy=(fmt(*y)) r=(radius) fill=(POINT) fill-opacity="0.7" {}
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
