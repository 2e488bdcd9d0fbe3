//! The page shell (header, navigation, filter form, downloads, footer), the
//! HTML response and the error pages.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use ntsb_model::vocab::{Damage, EventType, InjuryLevel, Phase, Weather};

use super::charts::Table;
use super::query::PageQuery;
use super::text::Text;
use crate::error::{ApiError, InternalCause, Problem};

/// The pages in the navigation: (path, name).
const NAV: [(&str, &str); 8] = [
    ("/", "Overview"),
    ("/trends", "Trends"),
    ("/map", "Map"),
    ("/aircraft", "Aircraft"),
    ("/causes", "Causes"),
    ("/search", "Search"),
    ("/predict", "Predict"),
    ("/live", "Live"),
];

/// Marks an error answer whose body is a page already (a form shown again with
/// its error): [`html_errors`] leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OwnBody;

/// A rendered page with `status` that keeps its body (see [`OwnBody`]).
pub(crate) fn page_with_status(status: StatusCode, markup: Markup) -> Response {
    let mut res = Page::Html(markup).into_response();
    *res.status_mut() = status;
    res.extensions_mut().insert(OwnBody);
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// One link of the navigation.
fn nav_link(href: &str, name: &str, path: &str) -> Markup {
    html! {
        li {
            @if href == path {
                a href=(href) aria-current="page" { (name) }
            } @else {
                a href=(href) { (name) }
            }
        }
    }
}

/// A rendered page, or one of its tables as CSV.
pub(crate) enum Page {
    /// HTML.
    Html(Markup),
    /// A table as a CSV download named `file`.
    Csv { file: String, body: String },
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        match self {
            Page::Html(markup) => {
                ([(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], markup.into_string())
                    .into_response()
            }
            Page::Csv { file, body } => {
                let mut res = ([(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"))], body)
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
                    res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
                }
                res
            }
        }
    }
}

impl Page {
    /// The response, marked not for storing (a page for one visitor).
    pub(crate) fn into_response_no_store(self) -> Response {
        let mut res = self.into_response();
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}

/// The page, or the table the query asked for as CSV (`format=csv&table=ID`).
pub(crate) fn respond(
    q: &PageQuery,
    name: &str,
    tables: &[&Table],
    html: impl FnOnce() -> Markup,
) -> Result<Page, ApiError> {
    match q.csv_table()? {
        None => Ok(Page::Html(html())),
        Some(id) => {
            let table = match id {
                None => tables.first().copied(),
                Some(id) => tables.iter().copied().find(|t| t.id == id),
            };
            let table = table.ok_or_else(|| {
                let ids: Vec<&str> = tables.iter().map(|t| t.id).collect();
                ApiError::invalid("table", format!("this page's tables are {}", ids.join(", ")))
            })?;
            Ok(Page::Csv { file: format!("{name}-{}.csv", table.id), body: table.csv() })
        }
    }
}

/// The whole document around a page's main content.
pub(crate) fn shell(title: &str, path: &str, main: Markup) -> Markup {
    let visitor = super::session::current();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · NTSB Analytics" }
                link rel="stylesheet" href="/assets/dashboard.css";
                link rel="icon" href="/assets/icon.svg" type="image/svg+xml";
                script src="/assets/dashboard.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    a.brand href="/" { "NTSB Analytics" }
                    nav aria-label="Pages" {
                        ul {
                            @for (href, name) in NAV {
                                (nav_link(href, name, path))
                            }
                            @if visitor.as_ref().is_some_and(|v| v.admin) {
                                (nav_link("/admin", "Admin", path))
                            }
                            li { a href="/docs" { "API" } }
                        }
                    }
                    div.who id="who" {
                        @match &visitor {
                            Some(v) => {
                                a href="/account" id="signed-in-as" aria-current=[(path == "/account").then_some("page")] {
                                    "Signed in as " (v.email)
                                }
                                form.inline method="post" action="/account/sign-out" {
                                    input type="hidden" name="csrf" value=(v.csrf);
                                    button type="submit" id="sign-out" { "Sign out" }
                                }
                            }
                            None => {
                                a href="/account" id="sign-in-link" aria-current=[(path == "/account").then_some("page")] {
                                    "Sign in"
                                }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (main) }
                footer.site {
                    p {
                        "Data: U.S. National Transportation Safety Board. Map outlines: us-atlas and world-atlas "
                        "(ISC licence, Natural Earth and U.S. Census Bureau, public domain). "
                        a href="/docs" { "API reference" } "."
                    }
                }
            }
        }
    }
}

/// The filter form: every API event filter by its parameter name, prefilled
/// from the URL (and only from it, also on back/forward); submitting it (GET)
/// puts the view in the URL. `keep` are the
/// page's own parameters, carried as hidden fields.
pub(crate) fn filter_form(q: &PageQuery, action: &str, keep: &[&str]) -> Markup {
    let mut hidden: Vec<(String, String)> = Vec::new();
    for name in std::iter::once(&"bbox").chain(keep) {
        if let Some(value) = q.get(name) {
            hidden.push((name.to_string(), value.to_string()));
        }
    }
    filter_set_form(action, "", "Filter events", &|name| q.get(name).unwrap_or("").to_string(), &hidden)
}

/// A filter form whose fields are named `prefix` + the API's filter name (the
/// second set of a comparison is `b.`), prefilled by `value`, carrying `hidden`
/// (the rest of the view) so that submitting it changes this set only.
pub(crate) fn filter_set_form(
    action: &str,
    prefix: &str,
    legend: &str,
    value: &dyn Fn(&str) -> String,
    hidden: &[(String, String)],
) -> Markup {
    let v = |name: &str| value(&format!("{prefix}{name}"));
    let n = |name: &str| format!("{prefix}{name}");
    html! {
        // autocomplete=off: on back/forward the browser would otherwise restore what was last
        // typed into the fields, not the values of the URL the page shows.
        form.filters method="get" action=(action) role="search" aria-label=(legend) autocomplete="off" {
            fieldset {
                legend { (legend) }
                div.grid {
                    (input(&n("q"), "Text (narrative, cause)", "search", &v("q")))
                    (input(&n("from"), "From date", "date", &v("from")))
                    (input(&n("to"), "To date", "date", &v("to")))
                    (input(&n("year"), "Year", "number", &v("year")))
                    (input(&n("state"), "State (2 letters)", "text", &v("state")))
                    (input(&n("country"), "Country", "text", &v("country")))
                    (select(&n("highest_injury"), "Highest injury", &names(InjuryLevel::ALL, InjuryLevel::as_str), &v("highest_injury")))
                    (select(&n("event_type"), "Event type", &names(EventType::ALL, EventType::as_str), &v("event_type")))
                    (select(&n("damage"), "Aircraft damage", &names(Damage::ALL, Damage::as_str), &v("damage")))
                    (input(&n("make"), "Make", "text", &v("make")))
                    (input(&n("model"), "Model (prefix)", "text", &v("model")))
                    (input(&n("category"), "Category (AIR, HELI…)", "text", &v("category")))
                    (input(&n("far_part"), "FAR part (91, 135…)", "text", &v("far_part")))
                    (select(&n("phase"), "Phase of flight", &names(Phase::ALL, Phase::as_str), &v("phase")))
                    (select(&n("weather"), "Weather", &names(Weather::ALL, Weather::as_str), &v("weather")))
                    (select(&n("has_narrative"), "Has narrative", &["true", "false"], &v("has_narrative")))
                }
                @for (name, value) in hidden {
                    input type="hidden" name=(name) value=(value);
                }
                div.actions {
                    button type="submit" { "Apply filters" }
                    " "
                    a href=(action) { "Clear all" }
                }
            }
        }
    }
}

fn names<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| as_str(*v)).collect()
}

fn input(name: &str, label: &str, kind: &str, value: &str) -> Markup {
    let id = format!("f-{name}");
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(name) type=(kind) value=(value);
        }
    }
}

fn select(name: &str, label: &str, options: &[&str], value: &str) -> Markup {
    let id = format!("f-{name}");
    html! {
        div.field {
            label for=(id) { (label) }
            select id=(id) name=(name) {
                option value="" { "any" }
                @for o in options {
                    @if o.eq_ignore_ascii_case(value) {
                        option value=(o) selected { (o) }
                    } @else {
                        option value=(o) { (o) }
                    }
                }
            }
        }
    }
}

/// The active filters in words, each removable, or "all events".
pub(crate) fn active_filters(q: &PageQuery, path: &str) -> Markup {
    html! {
        p.active {
            @if q.filters.is_empty() {
                "Showing all events."
            } @else {
                "Showing events where "
                @for (i, (k, v)) in q.filters.iter().enumerate() {
                    @if i > 0 { ", " }
                    span.chip { (k) " = " strong { (Text(v)) } " "
                        a href=(q.with(path, k, None)) aria-label=(format!("Remove the {k} filter")) { "×" } }
                }
                "."
            }
        }
    }
}

/// Links to the data behind the view: the events of the filter as CSV and
/// GeoJSON (the API's exports and map points) and the page's tables as CSV.
pub(crate) fn downloads(q: &PageQuery, path: &str, tables: &[&Table]) -> Markup {
    html! {
        section.downloads aria-labelledby="downloads-title" {
            h2 id="downloads-title" { "Data of this view" }
            ul {
                @for t in tables {
                    li { a href=(q.csv_href(path, t.id)) download {
                        (t.caption) " (CSV)" } }
                }
                li { a href=(q.href("/api/v1/geo/events", &[("limit", "10000")])) { "Events with coordinates (GeoJSON, up to 10,000)" } }
                li { a href=(q.href("/api/v1/export/events.csv", &[])) { "Every matching event (CSV export, needs an API key)" } }
                li { a href=(q.href("/api/v1/export/events.geojson", &[])) { "Every matching event (GeoJSON export, needs an API key)" } }
                li { a href=(q.href("/api/v1/stats/summary", &[])) { "The figures as JSON (API)" } }
            }
        }
    }
}

/// Turns every error answer of a page (a problem document from a handler or
/// the access gate, or a bare status from routing) into an HTML page with
/// the same status and headers.
pub(crate) async fn html_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || res.extensions().get::<OwnBody>().is_some() {
        return res;
    }
    let problem = match res.extensions().get::<Problem>() {
        Some(p) => p.clone(),
        None => match status {
            StatusCode::NOT_FOUND => ApiError::NotFound("no page here".into()).problem(),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed.problem(),
            other => ApiError::Other(other).problem(),
        },
    };
    if let Some(InternalCause(cause)) = res.extensions().get::<InternalCause>() {
        tracing::error!(cause = %cause, "internal error on a page");
    }
    let (mut parts, _) = res.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = error_page(status, &problem).into_string();
    Response::from_parts(parts, axum::body::Body::from(body))
}

fn error_page(status: StatusCode, problem: &Problem) -> Markup {
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::BAD_REQUEST => "This view cannot be shown",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        _ => problem.title.as_str(),
    };
    shell(
        title,
        "",
        html! {
            h1 { (title) }
            p.error { (Text(&problem.detail)) }
            @if let Some(p) = &problem.parameter {
                p { "The parameter at fault: " code { (Text(p)) } ". Change it in the address or the form, or "
                    a href="/" { "start again from the overview" } "." }
            } @else {
                p { a href="/" { "Go to the overview" } " or " a href="/search" { "search the events" } "." }
            }
            p.meta { "Status " (status.as_u16()) " · " code { (problem.code) } }
        },
    )
}
