//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::metrics::Family;
use crate::params::{NoParams, Query};
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
    /// Redis, when configured. Optional: the API serves without it, so an
    /// outage shows here but does not make the process unready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisReady>,
}

/// Whether Redis answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedisReady {
    /// It answered a PING just now.
    pub ok: bool,
    /// The URL without its password.
    pub url: String,
    /// Whether answers are shared with other replicas through it (PostgreSQL
    /// stores only; SQLite's data version is per process).
    pub shared_cache: bool,
}

/// Whether the store answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreReady {
    /// It answered a query.
    pub ok: bool,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
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
    /// Position in the store's index change log of the last change this index
    /// committed; equal to `store_position` when it is up to date.
    pub position: Option<u64>,
    /// Position of the store's latest change of searchable text.
    pub store_position: Option<u64>,
}

#[utoipa::path(get, path = "/health", tag = "operations", summary = "Liveness",
    responses((status = 200, description = "The process is up", body = Health)))]
pub(crate) async fn health(_: Query<NoParams>) -> Result<Json<Health>, ApiError> {
    Ok(Json(Health { status: "ok" }))
}

#[utoipa::path(get, path = "/ready", tag = "operations", summary = "Readiness: the store and the index answer",
    responses(
        (status = 200, description = "Ready to serve", body = Ready),
        (status = 503, description = "A dependency is not usable (same body, `status: unavailable`)", body = Ready),
    ))]
pub(crate) async fn ready(State(state): State<AppState>, _: Query<NoParams>) -> Result<Response, ApiError> {
    let redis = match state.redis.clone() {
        Some(link) => Some(RedisReady {
            ok: link.ping().await,
            url: link.label().to_string(),
            shared_cache: state.cache.shares(),
        }),
        None => None,
    };
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
        let position = state.index.position().ok();
        let store_position = state.store.index_log_head().ok();
        let store = StoreReady { ok: content.is_some(), backend: state.backend, content };
        let index = IndexReady { ok: position.is_some(), documents, position, store_position };
        let status = if store.ok && index.ok { "ready" } else { "unavailable" };
        Ok(Ready { status, store, index, redis })
    })
    .await?;
    let code = if ready.status == "ready" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((code, Json(ready)).into_response())
}

#[utoipa::path(get, path = "/metrics", tag = "operations", summary = "Prometheus metrics",
    description = "Prometheus text format 0.0.4: `ntsb_http_requests_total` and \
        `ntsb_http_request_duration_seconds` by method, matched route and status, \
        `ntsb_http_requests_in_flight`, `ntsb_build_info`, `ntsb_index_documents`, \
        `ntsb_store_pool_connections` by state, `ntsb_cache_*` (response cache hits, misses, size, shared hits), \
        `ntsb_redis_up`, `ntsb_redis_errors_total` and `ntsb_redis_outages_total` (when Redis is configured), \
        `ntsb_ingest_loads_total` by status, `ntsb_ingest_records_total` by outcome and \
        `ntsb_ingest_last_load_finished_seconds` (from the load ledger), `ntsb_index_position` (of the index \
        and of the store's change log), `ntsb_ratelimit_decisions_total` by tier and decision, \
        `ntsb_ml_model_loaded`, `ntsb_ml_predictions_total`, `ntsb_ml_prediction_errors_total` and \
        `ntsb_ml_prediction_duration_seconds` by model; with Kafka, `ntsb_kafka_published_total`, \
        `ntsb_kafka_publish_errors_total`, `ntsb_kafka_published_position` and `ntsb_kafka_publisher_leader`.",
    responses((status = 200, description = "Exposition text", content_type = "text/plain; version=0.0.4", body = String),
        (status = 400, description = "Unknown parameter", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn metrics(State(state): State<AppState>, _: Query<NoParams>) -> Result<Response, ApiError> {
    let extra = state.extra_metrics.clone();
    let families = blocking(move || Ok(scrape(&state))).await?;
    let mut text = families.0.render(&families.1);
    for render in &extra {
        text.push_str(&render());
    }
    let mut res = text.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    Ok(res)
}

/// Loads read from the ledger for the ingest metrics (the ledger is small: one
/// row per file loaded).
const LEDGER_LOADS: usize = 100_000;

/// The families gathered at scrape time: index, store pool, response cache and
/// the ingest ledger (loads by status, records by outcome, last load time).
fn scrape(state: &AppState) -> (std::sync::Arc<crate::metrics::Metrics>, Vec<Family>) {
    let mut families = vec![
        Family::gauge("ntsb_index_documents", "Documents (events with text) in the full-text index.")
            .sample(&[], state.index.doc_count() as f64),
    ];
    // How far the index is behind the store's change log (the index follower's lag).
    let mut positions = Family::gauge(
        "ntsb_index_position",
        "Position in the store's index change log: what the index committed (of=index) and the store's latest (of=store).",
    );
    if let Ok(p) = state.index.position() {
        positions = positions.sample(&[("of", "index")], p as f64);
    }
    if let Ok(head) = state.store.index_log_head() {
        positions = positions.sample(&[("of", "store")], head as f64);
    }
    families.push(positions);
    let mut loaded =
        Family::gauge("ntsb_ml_model_loaded", "Whether a model is loaded and served (1) or not (0), by model.");
    for kind in ntsb_ml::ModelKind::ALL {
        loaded = loaded.sample(&[("model", kind.name())], if state.ml.get(kind).is_some() { 1.0 } else { 0.0 });
    }
    families.push(loaded);
    if let Some(pool) = state.store.pool_status() {
        families.push(
            Family::gauge("ntsb_store_pool_connections", "Store connections, by state.")
                .sample(&[("state", "in_use")], pool.in_use as f64)
                .sample(&[("state", "idle")], pool.idle as f64),
        );
        families.push(
            Family::gauge("ntsb_store_pool_max_idle", "Most idle store connections kept.")
                .sample(&[], pool.max_idle as f64),
        );
    }
    let c = state.cache.stats();
    families.extend([
        Family::counter("ntsb_cache_hits_total", "Cacheable requests answered from the response cache.")
            .sample(&[], c.hits as f64),
        Family::counter("ntsb_cache_misses_total", "Cacheable requests computed afresh.").sample(&[], c.misses as f64),
        Family::counter("ntsb_cache_invalidations_total", "Times the data changed and the response cache was emptied.")
            .sample(&[], c.invalidations as f64),
        Family::gauge("ntsb_cache_entries", "Answers held in the response cache.").sample(&[], c.entries as f64),
        Family::gauge("ntsb_cache_bytes", "Bytes held in the response cache.").sample(&[], c.bytes as f64),
        Family::gauge("ntsb_cache_capacity_bytes", "Response cache budget (0: off).").sample(&[], c.capacity as f64),
        Family::counter("ntsb_cache_shared_hits_total", "Local misses answered from the shared (Redis) cache.")
            .sample(&[], c.shared_hits as f64),
    ]);
    // Declared without Redis too (no samples), so rules and dashboards always find them.
    let mut up = Family::gauge("ntsb_redis_up", "Whether the last Redis command succeeded (1) or failed (0).");
    let mut errors = Family::counter("ntsb_redis_errors_total", "Redis commands and connection attempts that failed.");
    let mut outages = Family::counter("ntsb_redis_outages_total", "Times Redis went from reachable to unreachable.");
    if let Some(redis) = &state.redis {
        let r = redis.stats();
        up = up.sample(&[], if r.up { 1.0 } else { 0.0 });
        errors = errors.sample(&[], r.errors as f64);
        outages = outages.sample(&[], r.outages as f64);
    }
    families.extend([up, errors, outages]);
    families.extend(crate::process::families());
    families.extend(crate::live::Live::families(state.live.as_deref()));
    match state.store.loads(LEDGER_LOADS) {
        Ok(loads) => families.extend(ingest_families(&loads)),
        Err(e) => tracing::warn!(cause = %e, "metrics: the load ledger could not be read"),
    }
    (state.metrics.clone(), families)
}

/// Ingest counters from the store's load ledger, so they hold across processes
/// (`ntsb ingest` runs apart from the server).
fn ingest_families(loads: &[ntsb_store::LoadEntry]) -> Vec<Family> {
    let mut by_status: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    let mut totals = [0u64; 4];
    let mut last_finished: Option<f64> = None;
    for load in loads {
        let status = match load.status.as_str() {
            "running" | "completed" => load.status.as_str(),
            _ => "failed",
        };
        *by_status.entry(status).or_default() += 1;
        let t = load.counts;
        for (slot, n) in totals.iter_mut().zip([t.inserted, t.updated, t.unchanged, t.rejected]) {
            *slot += n;
        }
        let finished = load.finished_at.as_deref().and_then(|f| chrono::DateTime::parse_from_rfc3339(f).ok());
        if let Some(f) = finished {
            let secs = f.timestamp() as f64;
            last_finished = Some(last_finished.map_or(secs, |l: f64| l.max(secs)));
        }
    }
    let mut loads_family = Family::counter("ntsb_ingest_loads_total", "Files loaded into the store, by status.");
    for (status, n) in by_status {
        loads_family = loads_family.sample(&[("status", status)], n as f64);
    }
    let mut records = Family::counter("ntsb_ingest_records_total", "Records read by loads, by outcome.");
    for (outcome, n) in ["inserted", "updated", "unchanged", "rejected"].into_iter().zip(totals) {
        records = records.sample(&[("outcome", outcome)], n as f64);
    }
    let mut out = vec![loads_family, records];
    if let Some(t) = last_finished {
        out.push(
            Family::gauge(
                "ntsb_ingest_last_load_finished_seconds",
                "When the last load finished, since the Unix epoch.",
            )
            .sample(&[], t),
        );
    }
    out
}
