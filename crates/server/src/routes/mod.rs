//! The route table and the middleware stack. Each feature module holds its
//! handlers; this module only assembles them.

pub(crate) mod docs;
pub(crate) mod events;
pub(crate) mod export;
pub(crate) mod geo;
pub(crate) mod ml;
pub(crate) mod ops;
pub(crate) mod search;
pub(crate) mod stats;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{MethodRouter, get, post};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::ApiError;
use crate::middleware;
use crate::server::ServerOptions;
use crate::state::AppState;

/// `Content-Security-Policy` of every response: only our own scripts, styles and
/// fetches; no inline script, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
     form-action 'self'";

/// Every route the server answers: (path, whether the answer is cacheable, handler).
fn table() -> Vec<(&'static str, bool, MethodRouter<AppState>)> {
    vec![
        ("/health", false, get(ops::health)),
        ("/ready", false, get(ops::ready)),
        ("/metrics", false, get(ops::metrics)),
        ("/openapi.json", true, get(docs::openapi_json)),
        ("/docs", true, get(docs::page)),
        ("/docs/app.js", true, get(docs::script)),
        ("/docs/app.css", true, get(docs::style)),
        ("/api/v1/events", true, get(events::list)),
        ("/api/v1/events/{ev_id}", true, get(events::detail)),
        ("/api/v1/search", true, get(search::search)),
        ("/api/v1/stats/summary", true, get(stats::summary)),
        ("/api/v1/stats/yearly", true, get(stats::yearly)),
        ("/api/v1/stats/monthly", true, get(stats::monthly)),
        ("/api/v1/stats/seasonal", true, get(stats::seasonal)),
        ("/api/v1/stats/day-of-week", true, get(stats::day_of_week)),
        ("/api/v1/stats/decades", true, get(stats::decades)),
        ("/api/v1/stats/states", true, get(stats::states)),
        ("/api/v1/stats/makes", true, get(stats::makes)),
        ("/api/v1/stats/make-models", true, get(stats::make_models)),
        ("/api/v1/stats/phases", true, get(stats::phases)),
        ("/api/v1/stats/weather", true, get(stats::weather)),
        ("/api/v1/stats/far-parts", true, get(stats::far_parts)),
        ("/api/v1/stats/findings", true, get(stats::findings)),
        ("/api/v1/stats/occurrences", true, get(stats::occurrences)),
        ("/api/v1/geo/events", true, get(geo::events)),
        ("/api/v1/geo/radius", true, get(geo::radius)),
        ("/api/v1/geo/density", true, get(geo::density)),
        ("/api/v1/geo/clusters", true, get(geo::clusters)),
        // Streamed: never buffered for an ETag.
        ("/api/v1/export/events.csv", false, get(export::csv)),
        ("/api/v1/export/events.geojson", false, get(export::geojson)),
        // Models are swapped without a restart: never cached.
        ("/api/v1/ml/models", false, get(ml::models)),
        ("/api/v1/ml/predict", false, post(ml::predict)),
        ("/api/v1/ml/predict/batch", false, post(ml::predict_batch)),
    ]
}

/// The paths of every route, in the form the OpenAPI document uses.
pub fn route_paths() -> Vec<&'static str> {
    table().into_iter().map(|(path, _, _)| path).collect()
}

/// The whole application with default [`ServerOptions`] (what tests `oneshot`).
pub fn router(state: AppState) -> Router {
    router_with(state, &ServerOptions::default()).expect("the default options are valid")
}

/// The whole application: routes and middleware. Fails only on an unusable
/// CORS origin.
pub fn router_with(state: AppState, opts: &ServerOptions) -> Result<Router, String> {
    let mut cached = Router::new();
    let mut plain = Router::new();
    for (path, cacheable, handler) in table() {
        if cacheable {
            cached = cached.route(path, handler);
        } else {
            plain = plain.route(path, handler);
        }
    }
    let metrics = state.metrics.clone();
    let mut app = cached
        .route_layer(from_fn_with_state(state.cache.clone(), middleware::etag))
        .merge(plain)
        .fallback(fallback)
        .with_state(state)
        .layer(DefaultBodyLimit::max(opts.body_limit))
        .layer(RequestBodyLimitLayer::new(opts.body_limit))
        .layer(from_fn_with_state(opts.request_timeout, middleware::timeout))
        .layer(from_fn(middleware::problems))
        .layer(CompressionLayer::new());
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
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers([header::IF_NONE_MATCH, HeaderName::from_static("x-request-id")])
        .expose_headers([header::ETAG, HeaderName::from_static("x-request-id")]))
}

async fn fallback(uri: axum::http::Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::NotFound(format!("no resource at {path}; see /docs"))
}
