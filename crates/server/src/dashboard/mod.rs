//! The dashboard: server-rendered pages for people, at `/` on the API's port.
//!
//! Every page is one handler in a module of its own. A handler parses the
//! page's query string (the API's filter parameter names, see [`query`]), asks
//! for its figures through the very functions the JSON routes use
//! (`routes::stats::summary_of`, `breakdown_of`, …: no statistic is computed
//! twice), and renders HTML with `maud`, which escapes every value. Charts are
//! inline SVG drawn here, each followed by the table it shows; the pages need
//! no JavaScript, and the stylesheet is a file served from the binary, so the
//! strict Content-Security-Policy holds (no inline style or script). Every
//! table of a page is also served as CSV (`format=csv&table=ID`), so a view
//! can be downloaded exactly as it is shown.

mod aircraft;
mod assets;
mod causes;
mod charts;
mod event;
mod geo;
mod layout;
mod map;
mod overview;
mod query;
mod search;
mod text;
mod trends;

use axum::Router;
use axum::middleware::{from_fn_with_state, map_response};
use axum::routing::{MethodRouter, get};

use crate::access::{Gate, Policy};
use crate::state::AppState;

/// The dashboard's routes: (path, whether answers are cached until the data
/// changes, who may call it, handler). Pages are public like the statistics
/// they show; the stylesheet and map outlines are open like `/docs`.
pub(crate) fn table() -> Vec<(&'static str, bool, Policy, MethodRouter<AppState>)> {
    use Policy::{Open, Public};
    vec![
        ("/", true, Public, get(overview::page)),
        ("/trends", true, Public, get(trends::page)),
        ("/map", true, Public, get(map::page)),
        ("/aircraft", true, Public, get(aircraft::page)),
        ("/causes", true, Public, get(causes::page)),
        ("/search", true, Public, get(search::page)),
        ("/events/{ev_id}", true, Public, get(event::page)),
        ("/assets/dashboard.css", true, Open, get(assets::style)),
        ("/assets/icon.svg", true, Open, get(assets::icon)),
    ]
}

/// The dashboard as a router of its own: the access gate, the response cache
/// and the request timeout as on the API, but outside the API's
/// problem-document layer: every error a page meets (a bad parameter, an
/// unknown event, a rate limit) is answered as an HTML page with the right
/// status. `None` when the role serves no page.
pub(crate) fn router(state: AppState, gate: Gate, opts: &crate::ServerOptions) -> Option<Router> {
    let mut router = Router::new();
    let mut any = false;
    for (path, _cacheable, _, handler) in table() {
        if opts.role.serves(path) {
            any = true;
            router = router.route(path, handler);
        }
    }
    if !any {
        return None;
    }
    let cache = state.cache.clone();
    Some(
        router
            .route_layer(from_fn_with_state(cache, crate::middleware::etag))
            .route_layer(from_fn_with_state(gate, crate::access::access))
            .route_layer(from_fn_with_state(opts.request_timeout, crate::middleware::timeout))
            .route_layer(map_response(layout::html_errors))
            .with_state(state),
    )
}
