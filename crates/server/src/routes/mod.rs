//! The route table and the middleware stack. Each feature module holds its
//! handlers; this module only assembles them.

pub(crate) mod admin;
pub(crate) mod auth;
pub(crate) mod docs;
pub(crate) mod events;
pub(crate) mod export;
pub(crate) mod geo;
pub(crate) mod ml;
pub(crate) mod ops;
pub(crate) mod search;
pub(crate) mod stats;
pub(crate) mod stream;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, delete, get, post, put};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::access::{Gate, Policy};
use crate::error::ApiError;
use crate::middleware;
use crate::server::ServerOptions;
use crate::state::AppState;

/// A 200 whose body is JSON already written (a stored event document, a
/// prediction written by hand).
pub(crate) fn json_response(body: impl IntoResponse) -> axum::response::Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// `Content-Security-Policy` of every response: only our own scripts, styles and
/// fetches; no inline script, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
     form-action 'self'";

/// Every route the server answers: (path, whether the answer is cacheable,
/// who may call it, handler). A route's policy lives beside it, so none can be
/// added without one; [`crate::access::access`] refuses any path not listed here.
fn table() -> Vec<(&'static str, bool, Policy, MethodRouter<AppState>)> {
    use Policy::{Admin, Open, Public, Session, User};
    vec![
        ("/health", false, Open, get(ops::health)),
        ("/ready", false, Open, get(ops::ready)),
        ("/metrics", false, Open, get(ops::metrics)),
        ("/openapi.json", true, Open, get(docs::openapi_json)),
        ("/docs", true, Open, get(docs::page)),
        ("/docs/app.js", true, Open, get(docs::script)),
        ("/docs/app.css", true, Open, get(docs::style)),
        ("/api/v1/events", true, Public, get(events::list)),
        ("/api/v1/events/{ev_id}", true, Public, get(events::detail)),
        ("/api/v1/search", true, Public, get(search::search)),
        ("/api/v1/stats/summary", true, Public, get(stats::summary)),
        ("/api/v1/stats/yearly", true, Public, get(stats::yearly)),
        ("/api/v1/stats/monthly", true, Public, get(stats::monthly)),
        ("/api/v1/stats/seasonal", true, Public, get(stats::seasonal)),
        ("/api/v1/stats/day-of-week", true, Public, get(stats::day_of_week)),
        ("/api/v1/stats/decades", true, Public, get(stats::decades)),
        ("/api/v1/stats/states", true, Public, get(stats::states)),
        ("/api/v1/stats/makes", true, Public, get(stats::makes)),
        ("/api/v1/stats/make-models", true, Public, get(stats::make_models)),
        ("/api/v1/stats/phases", true, Public, get(stats::phases)),
        ("/api/v1/stats/weather", true, Public, get(stats::weather)),
        ("/api/v1/stats/far-parts", true, Public, get(stats::far_parts)),
        ("/api/v1/stats/countries", true, Public, get(stats::countries)),
        ("/api/v1/stats/categories", true, Public, get(stats::categories)),
        ("/api/v1/stats/engines", true, Public, get(stats::engines)),
        ("/api/v1/stats/amateur-built", true, Public, get(stats::amateur_built)),
        ("/api/v1/stats/findings", true, Public, get(stats::findings)),
        ("/api/v1/stats/occurrences", true, Public, get(stats::occurrences)),
        ("/api/v1/geo/events", true, Public, get(geo::events)),
        ("/api/v1/geo/radius", true, Public, get(geo::radius)),
        ("/api/v1/geo/density", true, Public, get(geo::density)),
        ("/api/v1/geo/clusters", true, Public, get(geo::clusters)),
        // Streamed: never buffered for an ETag.
        ("/api/v1/export/events.csv", false, User, get(export::csv)),
        ("/api/v1/export/events.geojson", false, User, get(export::geojson)),
        // Models are swapped without a restart: never cached.
        ("/api/v1/ml/models", false, Public, get(ml::models)),
        ("/api/v1/ml/predict", false, User, post(ml::predict)),
        ("/api/v1/ml/predict/batch", false, User, post(ml::predict_batch)),
        // Accounts: never cached (answers depend on the caller).
        // Live changes: long-lived, per-user, never cached.
        ("/api/v1/stream", false, User, get(stream::websocket)),
        ("/api/v1/stream/events", false, User, get(stream::events)),
        ("/api/v1/stream/tickets", false, User, post(stream::ticket)),
        ("/api/v1/auth/register", false, Public, post(auth::register)),
        ("/api/v1/auth/login", false, Public, post(auth::login)),
        ("/api/v1/auth/refresh", false, Public, post(auth::refresh)),
        ("/api/v1/auth/password-reset", false, Public, post(auth::reset_request)),
        ("/api/v1/auth/password-reset/confirm", false, Public, post(auth::reset_confirm)),
        ("/api/v1/auth/me", false, User, get(auth::me)),
        ("/api/v1/auth/logout", false, Session, post(auth::logout)),
        ("/api/v1/auth/password", false, Session, post(auth::change_password)),
        ("/api/v1/auth/api-keys", false, Session, get(auth::list_keys).post(auth::create_key)),
        ("/api/v1/auth/api-keys/{id}", false, Session, delete(auth::revoke_key)),
        ("/api/v1/admin/users", false, Admin, get(admin::users)),
        ("/api/v1/admin/users/{id}/role", false, Admin, put(admin::set_role)),
        ("/api/v1/admin/users/{id}/disabled", false, Admin, put(admin::set_disabled)),
        ("/api/v1/admin/users/{id}/api-keys", false, Admin, delete(admin::revoke_keys)),
        ("/api/v1/admin/audit", false, Admin, get(admin::audit)),
    ]
}

/// The paths of every API route, in the form the OpenAPI document uses (the
/// dashboard's pages are not part of the API).
pub fn route_paths() -> Vec<&'static str> {
    table().into_iter().map(|(path, _, _, _)| path).collect()
}

/// Every route's access policy: the API's and the dashboard's.
pub fn policies() -> Vec<(&'static str, Policy)> {
    table().into_iter().chain(crate::dashboard::table()).map(|(path, _, policy, _)| (path, policy)).collect()
}

/// The whole application with default [`ServerOptions`] (what tests `oneshot`).
pub fn router(state: AppState) -> Router {
    router_with(state, &ServerOptions::default()).expect("the default options are valid")
}

/// The whole application: routes and middleware. Fails only on an unusable
/// CORS origin (or a route table that would cache a per-user answer).
pub fn router_with(state: AppState, opts: &ServerOptions) -> Result<Router, String> {
    let mut cached = Router::new();
    let mut plain = Router::new();
    let mut any_cached = false;
    for (path, cacheable, policy, handler) in table() {
        if !opts.role.serves(path) {
            continue;
        }
        if cacheable && crate::access::is_private(policy, path) {
            return Err(format!("route {path}: a per-user or admin answer cannot be cacheable"));
        }
        if cacheable {
            any_cached = true;
            cached = cached.route(path, handler);
        } else {
            plain = plain.route(path, handler);
        }
    }
    let metrics = state.metrics.clone();
    let gate = Gate {
        auth: state.auth.clone(),
        trusted_proxies: opts.trusted_proxies.clone().into(),
        unlimited_loopback: opts.unlimited_loopback,
        metrics: metrics.clone(),
        live: state.live.clone(),
    };
    // A role may mount no cacheable route (the ML tier); a layer on no routes is refused.
    if any_cached {
        cached = cached.route_layer(from_fn_with_state(state.cache.clone(), middleware::etag));
    }
    let dashboard = if opts.dashboard { crate::dashboard::router(state.clone(), gate.clone(), opts) } else { None };
    let mut app = cached
        .merge(plain)
        // After routing (the policy is the matched route's) and before the
        // cache, so cached answers are still authorised and counted.
        .route_layer(from_fn(middleware::json_only))
        .route_layer(from_fn_with_state(gate, crate::access::access))
        .fallback(fallback)
        .with_state(state)
        .layer(DefaultBodyLimit::max(opts.body_limit))
        .layer(RequestBodyLimitLayer::new(opts.body_limit))
        .layer(from_fn_with_state(opts.request_timeout, middleware::timeout))
        .layer(from_fn(middleware::problems));
    // The pages answer errors as HTML: they sit beside the problem-document
    // layer, with their own gate, cache and timeout (see crate::dashboard).
    if let Some(pages) = dashboard {
        app = app.merge(pages);
    }
    let mut app = app.layer(CompressionLayer::new());
    if !opts.cors_origins.is_empty() {
        app = app.layer(cors(&opts.cors_origins)?);
    }
    if opts.production {
        app = app.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    let headers: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    ];
    for (name, value) in headers {
        app = app.layer(SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value)));
    }
    Ok(app.layer(from_fn_with_state(metrics, middleware::observe)))
}

fn cors(origins: &[String]) -> Result<CorsLayer, String> {
    let mut values = Vec::with_capacity(origins.len());
    for origin in origins {
        let ok = (origin.starts_with("http://") || origin.starts_with("https://")) && !origin.ends_with('/');
        let value = HeaderValue::from_str(origin).ok().filter(|_| ok);
        values.push(value.ok_or_else(|| {
            format!("CORS origin {origin:?} must be scheme://host[:port], without path or trailing slash")
        })?);
    }
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(values))
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::IF_NONE_MATCH,
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ]))
}

async fn fallback(uri: axum::http::Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::NotFound(format!("no resource at {path}; see /docs"))
}
