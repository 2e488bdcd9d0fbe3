//! `GET /api/v1/geo/*`: GeoJSON of filtered events, radius search, density grid
//! and clusters.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ntsb_model::query::{Cluster, EventSummary, GridCell};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::IntoParams;

use crate::error::{ApiError, Problem};
use crate::fields::Bounded;
use crate::openapi::{ClustersBody, DensityBody, FeatureCollectionBody};
use crate::params::values::{Decimal, decimal_range};
use crate::params::{FilterQuery, Query, TextQuery};
use crate::routes::events::filter_of;
use crate::state::{AppState, blocking, engine_error};

/// Most features one GeoJSON answer holds (use the export for more).
pub(crate) const MAX_FEATURES: usize = 10_000;

/// Features of a GeoJSON answer when `limit` is not given.
const DEFAULT_FEATURES: usize = 1000;

decimal_range!(
    /// Degrees of latitude.
    LatitudeRange, -90.0 ..= 90.0
);
decimal_range!(
    /// Degrees of longitude.
    LongitudeRange, -180.0 ..= 180.0
);
decimal_range!(
    /// A radius in km: more than 0, at most half the Earth's circumference.
    RadiusKmRange, > 0.0, ..= 20040.0
);
decimal_range!(
    /// The side of a density cell in degrees.
    CellDegreesRange, 0.01 ..= 45.0
);
decimal_range!(
    /// The DBSCAN neighbourhood in km.
    NeighbourhoodKmRange, > 0.0, ..= 500.0
);
// Plain names for the OpenAPI derive (see [`crate::params::filter`]).
type Latitude = Decimal<LatitudeRange>;
type Longitude = Decimal<LongitudeRange>;
type RadiusKm = Decimal<RadiusKmRange>;
type CellDegrees = Decimal<CellDegreesRange>;
type NeighbourhoodKm = Decimal<NeighbourhoodKmRange>;

/// Feature limit.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct GeoLimitQuery {
    /// Most features (default 1000).
    #[param(inline, example = 500)]
    limit: Option<Bounded<1, { MAX_FEATURES as i64 }>>,
}

/// Centre and radius.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RadiusQuery {
    /// Latitude of the centre, degrees.
    #[param(inline, example = 61.17)]
    lat: Latitude,
    /// Longitude of the centre, degrees.
    #[param(inline, example = -150.0)]
    lon: Longitude,
    /// Radius in km.
    #[param(inline, example = 50)]
    km: RadiusKm,
    /// Most features (default 1000).
    #[param(inline)]
    limit: Option<Bounded<1, { MAX_FEATURES as i64 }>>,
}

/// Grid cell size.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DensityQuery {
    /// Cell size in degrees (default 1).
    #[param(inline, example = 0.5)]
    cell: Option<CellDegrees>,
}

/// DBSCAN settings.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ClusterQuery {
    /// Neighbourhood radius in km (default 25).
    #[param(inline, example = 25)]
    eps_km: Option<NeighbourhoodKm>,
    /// Neighbours (self included) that make a core point (default 5).
    #[param(inline, example = 5)]
    min_points: Option<Bounded<2, 10_000>>,
    /// Most clusters (default 100).
    #[param(inline)]
    limit: Option<Bounded<1, 1000>>,
}

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
    params(FilterQuery, TextQuery, GeoLimitQuery),
    responses((status = 200, description = "FeatureCollection", body = FeatureCollectionBody, content_type = "application/geo+json"),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn events(
    State(state): State<AppState>,
    Query(filter, text, page): Query<FilterQuery, TextQuery, GeoLimitQuery>,
) -> Result<Response, ApiError> {
    let limit = page.limit.map_or(DEFAULT_FEATURES, |l| l.get() as usize);
    let filter = filter_of(&state, &filter, &text).await?;
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
    params(RadiusQuery, FilterQuery, TextQuery),
    responses((status = 200, description = "FeatureCollection", body = FeatureCollectionBody, content_type = "application/geo+json"),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn radius(
    State(state): State<AppState>,
    Query(filter, text, around): Query<FilterQuery, TextQuery, RadiusQuery>,
) -> Result<Response, ApiError> {
    let (lat, lon, km) = (around.lat.get(), around.lon.get(), around.km.get());
    let limit = around.limit.map_or(DEFAULT_FEATURES, |l| l.get() as usize);
    let filter = filter_of(&state, &filter, &text).await?;
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
    params(DensityQuery, FilterQuery, TextQuery),
    responses((status = 200, description = "Cells", body = DensityBody),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn density(
    State(state): State<AppState>,
    Query(filter, text, grid): Query<FilterQuery, TextQuery, DensityQuery>,
) -> Result<Json<Density>, ApiError> {
    let cell = grid.cell.map_or(1.0, Decimal::get);
    let filter = filter_of(&state, &filter, &text).await?;
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
    params(ClusterQuery, FilterQuery, TextQuery),
    responses((status = 200, description = "Clusters", body = ClustersBody),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn clusters(
    State(state): State<AppState>,
    Query(filter, text, settings): Query<FilterQuery, TextQuery, ClusterQuery>,
) -> Result<Json<Clusters>, ApiError> {
    let eps_km = settings.eps_km.map_or(25.0, Decimal::get);
    let min_points = settings.min_points.map_or(5, |m| m.get() as usize);
    let limit = settings.limit.map_or(100, |l| l.get() as usize);
    let filter = filter_of(&state, &filter, &text).await?;
    let items = blocking(move || Ok(state.queries.clusters(&filter, eps_km, min_points, limit)?)).await?;
    Ok(Json(Clusters { items }))
}
