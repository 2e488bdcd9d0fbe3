//! The dashboard: server-rendered pages for people, at `/` on the API's port.
//!
//! Every page is one handler in a module of its own. A handler parses the
//! page's query string (the API's filter parameter names, see [`query`]), asks
//! for its figures through the very functions the JSON routes use
//! (`routes::stats::summary_of`, `breakdown_of`, …: no statistic is computed
//! twice), and renders HTML with `maud`, which escapes every value. Charts are
//! inline SVG drawn here, each followed by the table it shows; the pages need
//! no JavaScript (one small script of ours only enhances), and the stylesheet
//! and scripts are files served from the binary, so the strict
//! Content-Security-Policy holds (no inline style or script). Every
//! table of a page is also served as CSV (`format=csv&table=ID`), so a view
//! can be downloaded exactly as it is shown.

mod account;
mod admin;
mod aircraft;
mod assets;
mod causes;
mod charts;
mod event;
mod geo;
mod layout;
mod live;
mod map;
mod overview;
mod predict;
mod query;
mod search;
mod session;
mod text;
mod trends;

use axum::Router;
use axum::middleware::{from_fn_with_state, map_response};
use axum::routing::{MethodRouter, get, post};

use crate::access::{Gate, Policy};
use crate::state::AppState;

pub(crate) use session::WebPrincipal;

/// The dashboard's routes: (path, whether answers are cached until the data
/// changes, who may call it, handler). Pages are public like the statistics
/// they show; the stylesheet and map outlines are open like `/docs`.
pub(crate) fn table() -> Vec<(&'static str, bool, Policy, MethodRouter<AppState>)> {
    use Policy::{Admin, Open, Public, User};
    vec![
        ("/", true, Public, get(overview::page)),
        ("/trends", true, Public, get(trends::page)),
        ("/map", true, Public, get(map::page)),
        ("/aircraft", true, Public, get(aircraft::page)),
        ("/causes", true, Public, get(causes::page)),
        ("/search", true, Public, get(search::page)),
        ("/events/{ev_id}", true, Public, get(event::page)),
        // Per visitor: never cached. The forms' CSRF check is a layer (session::csrf).
        ("/account", false, Public, get(account::page)),
        ("/account/sign-in", false, Public, post(account::sign_in)),
        ("/account/sign-out", false, Public, post(account::sign_out)),
        ("/account/register", false, Public, post(account::register)),
        ("/account/password", false, User, post(account::change_password)),
        ("/account/keys", false, User, post(account::create_key)),
        ("/account/keys/{id}/revoke", false, User, post(account::revoke_key)),
        ("/predict", false, User, get(predict::page)),
        ("/live", false, User, get(live::page)),
        ("/live/ticket", false, User, post(live::ticket)),
        ("/admin", false, Admin, get(admin::page)),
        ("/admin/users/{id}/role", false, Admin, post(admin::set_role)),
        ("/admin/users/{id}/disabled", false, Admin, post(admin::set_disabled)),
        ("/assets/dashboard.css", true, Open, get(assets::style)),
        ("/assets/challenge.js", true, Open, get(assets::challenge)),
        ("/assets/dashboard.js", true, Open, get(assets::script)),
        ("/assets/icon.svg", true, Open, get(assets::icon)),
    ]
}

/// The dashboard as a router of its own: the access gate, the response cache
/// and the request timeout as on the API, but outside the API's
/// problem-document layer: every error a page meets (a bad parameter, an
/// unknown event, a rate limit) is answered as an HTML page with the right
/// status. `None` when the role serves no page.
pub(crate) fn router(state: AppState, gate: Gate, opts: &crate::ServerOptions) -> Option<Router> {
    let mut cached = Router::new();
    let mut plain = Router::new();
    let (mut any_cached, mut any_plain) = (false, false);
    for (path, cacheable, _, handler) in table() {
        if !opts.role.serves(path) {
            continue;
        }
        if cacheable {
            any_cached = true;
            cached = cached.route(path, handler);
        } else {
            any_plain = true;
            plain = plain.route(path, handler);
        }
    }
    if !(any_cached || any_plain) {
        return None;
    }
    if any_cached {
        // Anonymous visitors' pages only: a signed-in visitor's page is theirs alone.
        cached = cached.route_layer(from_fn_with_state(state.cache.clone(), session::cache_unless_signed_in));
    }
    let rules = session::CookieRules { secure: opts.production || opts.tls.is_some() };
    Some(
        cached
            .merge(plain)
            // Inner to outer: the CSRF check of form posts, the access gate (the
            // session's account, its policy and limits), the session cookie,
            // anonymous visitors sent to sign in, the timeout, HTML errors.
            .route_layer(from_fn_with_state((state.clone(), rules), session::csrf))
            .route_layer(from_fn_with_state(gate, crate::access::access))
            .route_layer(from_fn_with_state((state.clone(), rules), session::resolve))
            .route_layer(axum::middleware::from_fn(session::sign_in_first))
            .route_layer(from_fn_with_state(opts.request_timeout, crate::middleware::timeout))
            .route_layer(map_response(layout::html_errors))
            .with_state(state),
    )
}
