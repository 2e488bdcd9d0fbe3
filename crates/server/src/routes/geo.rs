//! `GET /api/v1/geo/*`: GeoJSON of filtered events, radius search, density grid
//! and clusters.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ntsb_model::query::{Cluster, EventSummary, GridCell};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, Problem};
use crate::openapi::{
    ClusterParams, ClustersBody, DensityBody, DensityParams, FeatureCollectionBody, FilterParams, GeoLimitParams,
    RadiusParams,
};
use crate::params::{FILTER_PARAMS, Params};
use crate::routes::events::filter_of;
use crate::state::{AppState, blocking, engine_error};

/// Most features one GeoJSON answer holds (use the export for more).
pub(crate) const MAX_FEATURES: usize = 10_000;

/// Largest radius, km (half the Earth's circumference).
const MAX_KM: f64 = 20_040.0;

/// A GeoJSON Point feature of an event; `extra` properties (a distance) are added.
pub(crate) fn feature(e: &EventSummary, extra: Option<(&str, Value)>) -> Value {
    let mut props = match serde_json::to_value(e) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    props.remove("latitude");
    props.remove("longitude");
    if let Some((k, v)) = extra {
        props.insert(k.to_string(), v);
    }
    let geometry = match (e.longitude, e.latitude) {
        (Some(lon), Some(lat)) => json!({"type": "Point", "coordinates": [lon, lat]}),
        _ => Value::Null,
    };
    json!({"type": "Feature", "geometry": geometry, "properties": props})
}

/// A FeatureCollection answered as `application/geo+json`.
fn collection(features: Vec<Value>) -> Response {
    let mut res = Json(json!({"type": "FeatureCollection", "features": features})).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(GEO_JSON));
    res
}

/// Media type of GeoJSON (RFC 7946).
pub(crate) const GEO_JSON: &str = "application/geo+json";

#[utoipa::path(get, path = "/api/v1/geo/events", tag = "geo", summary = "Events as GeoJSON",
    description = "Filtered events that have coordinates, newest first, as a FeatureCollection of points.",
    params(FilterParams, GeoLimitParams),
    responses((status = 200, description = "FeatureCollection", body = FeatureCollectionBody, content_type = "application/geo+json"),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn events(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let p = Params::parse(raw.as_deref(), &[FILTER_PARAMS, &["limit"]])?;
    let limit = p.limit(1000, MAX_FEATURES)?;
    let filter = filter_of(&state, &p).await?;
    let events = geo_events_of(&state, filter, limit).await?;
    Ok(collection(events.iter().map(|e| feature(e, None)).collect()))
}

/// Filtered events with coordinates, newest first (what `/api/v1/geo/events` answers).
pub(crate) async fn geo_events_of(
    state: &AppState,
    filter: ntsb_model::query::EventFilter,
    limit: usize,
) -> Result<Vec<EventSummary>, ApiError> {
    let state = state.clone();
    blocking(move || Ok(state.queries.geo_events(&filter, limit)?)).await
}

#[utoipa::path(get, path = "/api/v1/geo/radius", tag = "geo", summary = "Events near a point",
    description = "Filtered events within `km` of (`lat`, `lon`), nearest first, each with `distance_km` \
        (great circle).",
    params(RadiusParams, FilterParams),
    responses((status = 200, description = "FeatureCollection", body = FeatureCollectionBody, content_type = "application/geo+json"),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn radius(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let p = Params::parse(raw.as_deref(), &[FILTER_PARAMS, &["lat", "lon", "km", "limit"]])?;
    let lat = p.required_float("lat", -90.0..=90.0)?;
    let lon = p.required_float("lon", -180.0..=180.0)?;
    let km = p.required_float("km", 0.0..=MAX_KM)?;
    if km <= 0.0 {
        return Err(ApiError::invalid("km", "must be greater than 0"));
    }
    let limit = p.limit(1000, MAX_FEATURES)?;
    let filter = filter_of(&state, &p).await?;
    let hits = blocking(move || Ok(state.queries.radius(&filter, lat, lon, km, limit)?)).await?;
    let features =
        hits.iter().map(|(e, d)| feature(e, Some(("distance_km", json!((d * 1000.0).round() / 1000.0))))).collect();
    Ok(collection(features))
}

/// A density grid.
#[derive(Debug, Serialize)]
pub(crate) struct Density {
    cell_degrees: f64,
    items: Vec<GridCell>,
}

#[utoipa::path(get, path = "/api/v1/geo/density", tag = "geo", summary = "Density grid",
    description = "Filtered events counted in square cells of `cell` degrees, busiest first.",
    params(DensityParams, FilterParams),
    responses((status = 200, description = "Cells", body = DensityBody),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn density(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<Density>, ApiError> {
    let p = Params::parse(raw.as_deref(), &[FILTER_PARAMS, &["cell"]])?;
    let cell = p.float("cell", 0.01..=45.0)?.unwrap_or(1.0);
    let filter = filter_of(&state, &p).await?;
    // The analytical engine counts the cells once it is built (on this thread, as it answers statistics).
    let items = match state.analytics.as_ref().and_then(|a| a.grid_density(&filter, cell)) {
        Some(cells) => cells.map_err(engine_error)?,
        None => blocking(move || Ok(state.queries.grid_density(&filter, cell)?)).await?,
    };
    Ok(Json(Density { cell_degrees: cell, items }))
}

/// Clusters.
#[derive(Debug, Serialize)]
pub(crate) struct Clusters {
    items: Vec<Cluster>,
}

#[utoipa::path(get, path = "/api/v1/geo/clusters", tag = "geo", summary = "Density-based clusters",
    description = "DBSCAN over the filtered events with coordinates (great-circle distance): \
        neighbourhood `eps_km`, core points with at least `min_points` neighbours. Largest first.",
    params(ClusterParams, FilterParams),
    responses((status = 200, description = "Clusters", body = ClustersBody),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn clusters(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Clusters>, ApiError> {
    let p = Params::parse(raw.as_deref(), &[FILTER_PARAMS, &["eps_km", "min_points", "limit"]])?;
    let eps_km = p.float("eps_km", 0.0..=500.0)?.unwrap_or(25.0);
    if eps_km <= 0.0 {
        return Err(ApiError::invalid("eps_km", "must be greater than 0"));
    }
    let min_points = p.int("min_points", 2..=10_000)?.unwrap_or(5) as usize;
    let limit = p.limit(100, 1000)?;
    let filter = filter_of(&state, &p).await?;
    let items = blocking(move || Ok(state.queries.clusters(&filter, eps_km, min_points, limit)?)).await?;
    Ok(Json(Clusters { items }))
}
