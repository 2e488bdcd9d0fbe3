//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::params::Params;
use crate::state::{AppState, blocking};

/// Liveness: the process answers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// Readiness of each dependency.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "store": {"ok": true, "content": "demo"}, "index": {"ok": true, "documents": 4210}}))]
pub struct Ready {
    /// `ready` or `unavailable`.
    pub status: &'static str,
    /// The store.
    pub store: StoreReady,
    /// The full-text index.
    pub index: IndexReady,
}

/// Whether the store answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreReady {
    /// It answered a query.
    pub ok: bool,
    /// `real`, `demo` or `empty`, when it answered.
    pub content: Option<&'static str>,
}

/// Whether the index answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexReady {
    /// It opened and answered.
    pub ok: bool,
    /// Documents (events with text) in the index.
    pub documents: u64,
}

#[utoipa::path(get, path = "/health", tag = "operations", summary = "Liveness",
    responses((status = 200, description = "The process is up", body = Health)))]
pub(crate) async fn health(RawQuery(raw): RawQuery) -> Result<Json<Health>, ApiError> {
    Params::parse(raw.as_deref(), &[])?;
    Ok(Json(Health { status: "ok" }))
}

#[utoipa::path(get, path = "/ready", tag = "operations", summary = "Readiness: the store and the index answer",
    responses(
        (status = 200, description = "Ready to serve", body = Ready),
        (status = 503, description = "A dependency is not usable (same body, `status: unavailable`)", body = Ready),
    ))]
pub(crate) async fn ready(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    Params::parse(raw.as_deref(), &[])?;
    let ready = blocking(move || {
        let content = match state.store.content_kind() {
            Ok(kind) => Some(match kind {
                Some(true) => "demo",
                Some(false) => "real",
                None => "empty",
            }),
            Err(e) => {
                tracing::error!(cause = %e, "readiness: the store did not answer");
                None
            }
        };
        let documents = state.index.doc_count();
        let store = StoreReady { ok: content.is_some(), content };
        let index = IndexReady { ok: true, documents };
        let status = if store.ok && index.ok { "ready" } else { "unavailable" };
        Ok(Ready { status, store, index })
    })
    .await?;
    let code = if ready.status == "ready" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((code, Json(ready)).into_response())
}

#[utoipa::path(get, path = "/metrics", tag = "operations", summary = "Prometheus metrics",
    description = "Prometheus text format 0.0.4: `ntsb_http_requests_total` and \
        `ntsb_http_request_duration_seconds` by method, matched route and status, \
        `ntsb_http_requests_in_flight`, `ntsb_build_info`, `ntsb_index_documents`.",
    responses((status = 200, description = "Exposition text", content_type = "text/plain; version=0.0.4", body = String),
        (status = 400, description = "Unknown parameter", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn metrics(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    Params::parse(raw.as_deref(), &[])?;
    let documents = state.index.doc_count() as f64;
    let text = state.metrics.render(&[(
        "ntsb_index_documents",
        "Documents (events with text) in the full-text index.",
        documents,
    )]);
    let mut res = text.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    Ok(res)
}
