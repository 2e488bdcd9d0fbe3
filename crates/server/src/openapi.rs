//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//!
//! The response schemas here describe the JSON the handlers produce from the
//! model's query types ([`ntsb_model::query`]), which stay free of HTTP and
//! documentation concerns. Tests serialise real values and check that their
//! fields are exactly the schema's properties, so the two cannot drift apart.

// The structs below exist only to be described; they are never built.
#![allow(dead_code)]

use utoipa::{OpenApi, ToSchema};

use crate::access::Policy;
use crate::error::Problem;
use crate::routes::{self, ops};

/// The OpenAPI document of the whole server.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    secure(&mut doc);
    constrain_parameters(&mut doc);
    problems_as_problem_json(&mut doc);
    doc
}

/// States in the document what every request's parsing shares: a body gets
/// 400 (naming the field) and 413 answers, a query string a 400 (naming the
/// parameter), and every text parameter the length limit
/// [`crate::params::checked_pairs`] applies to all of them. Each parameter's
/// own rule (range, pattern, values) comes from its type ([`crate::params::values`]).
fn constrain_parameters(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    for (_, op) in operations(doc) {
        if op.request_body.is_some() {
            op.responses.responses.entry("400".into()).or_insert_with(|| {
                problem("The body is not a JSON object of this shape (`invalid_parameter`, naming the field)")
            });
            op.responses.responses.entry("413".into()).or_insert_with(|| problem("The body is too large"));
        }
        let Some(parameters) = op.parameters.as_mut() else { continue };
        let mut any_query = false;
        for parameter in parameters.iter_mut().filter(|p| p.parameter_in == ParameterIn::Query) {
            any_query = true;
            let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() else { continue };
            if matches!(&schema.schema_type, SchemaType::Type(Type::String)) && schema.enum_values.is_none() {
                schema.max_length.get_or_insert(crate::params::MAX_VALUE_CHARS);
            }
        }
        if any_query {
            op.responses.responses.entry("400".into()).or_insert_with(|| {
                problem("A parameter is unknown, repeated or invalid (`invalid_parameter`, naming it)")
            });
        }
    }
}

/// Every error answer is a problem document: its media type is
/// `application/problem+json`, which is what the server sends.
fn problems_as_problem_json(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for (_, op) in operations(doc) {
        for (status, response) in op.responses.responses.iter_mut() {
            let RefOr::T(response) = response else { continue };
            if !status.starts_with('4') && !status.starts_with('5') {
                continue;
            }
            if let Some(content) = response.content.shift_remove("application/json") {
                response.content.insert("application/problem+json".into(), content);
            }
        }
    }
}

/// Every operation of the document, with its path.
fn operations(
    doc: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&str, &mut utoipa::openapi::path::Operation)> {
    doc.paths.paths.iter_mut().flat_map(|(path, item)| {
        [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch]
            .into_iter()
            .flatten()
            .map(move |op| (path.as_str(), op))
    })
}

/// A response whose body is a problem document.
fn problem(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/problem+json", utoipa::openapi::Content::new(Some(Ref::from_schema_name("Problem"))))
            .build(),
    )
}

/// Adds the security schemes, and to every operation the security and the
/// 401/403/429 answers its route's [`Policy`] implies — from the same table
/// the server enforces, so the document cannot disagree with the server.
fn secure(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::ComponentsBuilder;
    use utoipa::openapi::security::{
        ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    };
    let components = doc.components.get_or_insert_with(|| ComponentsBuilder::new().build());
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
    );
    components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    let limited = "Over the rate limit or quota (`rate_limited`, `quota_exceeded`): see `Retry-After` and the \
        `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers, which successful answers carry too";
    for (path, op) in operations(doc) {
        let Some(policy) = crate::access::policy_for(path) else { continue };
        let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
        let key = SecurityRequirement::new("api_key", Vec::<String>::new());
        let responses = &mut op.responses.responses;
        if op.request_body.is_some() {
            responses.entry("415".into()).or_insert_with(|| {
                problem("The body is not JSON (`unsupported_media_type`): send `Content-Type: application/json`")
            });
        }
        match policy {
            Policy::Open => continue,
            Policy::Public => {
                op.security = Some(vec![SecurityRequirement::default(), bearer, key]);
                responses.entry("401".into()).or_insert_with(|| problem("Credentials were sent but are invalid"));
            }
            Policy::User | Policy::Admin => {
                op.security = Some(vec![bearer, key]);
                responses.entry("401".into()).or_insert_with(|| problem("No valid access token or API key"));
            }
            Policy::Session => {
                op.security = Some(vec![bearer]);
                responses.entry("401".into()).or_insert_with(|| problem("No valid access token"));
                responses
                    .entry("403".into())
                    .or_insert_with(|| problem("An API key was used (`session_required`); log in instead"));
            }
        }
        if policy == Policy::Admin {
            responses.entry("403".into()).or_insert_with(|| problem("Not an administrator (`admin_required`)"));
        }
        responses.entry("429".into()).or_insert_with(|| problem(limited));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "NTSB Analytics API",
        description = "Read-only access to the NTSB aviation accident database: events, full-text search, \
            statistics, maps and exports. Errors are RFC 9457 problem documents (`application/problem+json`) \
            with a stable `code`; an invalid parameter gets a 400 that names it. Successful `GET`s under \
            `/api/v1` carry an `ETag` and answer `If-None-Match` with 304. Public endpoints work without \
            credentials, limited per client address; exports and predictions need an access token \
            (`Authorization: Bearer`, from `/api/v1/auth/login`) or an API key (`X-API-Key`); \
            `/api/v1/admin` needs an administrator. Limited answers carry `RateLimit-Limit`, \
            `RateLimit-Remaining` and `RateLimit-Reset`; over a limit, 429 with `Retry-After`.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        ops::health, ops::ready, ops::metrics,
        routes::docs::openapi_json, routes::docs::page, routes::docs::script, routes::docs::style,
        routes::events::list, routes::events::detail, routes::search::search,
        routes::stats::summary, routes::stats::yearly, routes::stats::monthly, routes::stats::seasonal,
        routes::stats::day_of_week, routes::stats::decades, routes::stats::states, routes::stats::makes,
        routes::stats::make_models, routes::stats::phases, routes::stats::weather, routes::stats::far_parts,
        routes::stats::countries, routes::stats::categories, routes::stats::engines, routes::stats::amateur_built,
        routes::stats::findings, routes::stats::occurrences,
        routes::geo::events, routes::geo::radius, routes::geo::density, routes::geo::clusters,
        routes::export::csv, routes::export::geojson,
        routes::ml::models, routes::ml::predict, routes::ml::predict_batch,
        routes::stream::events, routes::stream::websocket, routes::stream::ticket,
        routes::auth::register, routes::auth::login, routes::auth::refresh, routes::auth::logout, routes::auth::me,
        routes::auth::change_password, routes::auth::reset_request, routes::auth::reset_confirm,
        routes::auth::create_key, routes::auth::list_keys, routes::auth::revoke_key,
        routes::admin::users, routes::admin::set_role, routes::admin::set_disabled, routes::admin::revoke_keys,
        routes::admin::audit,
    ),
    components(schemas(Problem)),
    tags(
        (name = "events", description = "Listing and detail"),
        (name = "search", description = "Full-text search over narratives and probable causes"),
        (name = "statistics", description = "Totals and breakdowns; every endpoint accepts the event filters"),
        (name = "geo", description = "Maps: GeoJSON, radius search, density, clusters"),
        (name = "exports", description = "Streaming exports of any filtered set"),
        (name = "machine learning", description = "Scoring events with the fatal, risk and severity models, with explanations"),
        (name = "live", description = "Changes to events as they are committed: Server-Sent Events or WebSocket, filtered, resumable"),
        (name = "accounts", description = "Registration, login, tokens, password and API keys"),
        (name = "administration", description = "Accounts and the audit trail (administrators)"),
        (name = "operations", description = "Health, readiness, metrics"),
        (name = "documentation", description = "This document and the reference page"),
    )
)]
struct ApiDoc;

// ---------------------------------------------------------------------------
// Responses

/// People injured in an event, by level (the event's own totals).
#[derive(ToSchema)]
#[schema(as = Injuries)]
pub(crate) struct InjuriesBody {
    fatal: u64,
    serious: u64,
    minor: u64,
    none: u64,
}

/// One event in a listing.
#[derive(ToSchema)]
#[schema(as = EventSummary, example = json!({
    "ev_id": "20080124X00101", "ntsb_no": "NYC08CA068", "event_date": "2008-01-20", "event_type": "accident",
    "state": "NY", "city": "Albany", "country": "United States", "latitude": 42.75, "longitude": -73.8,
    "highest_injury": "none", "injuries": {"fatal": 0, "serious": 0, "minor": 0, "none": 2},
    "make": "Cessna", "model": "172S", "phase": "landing", "weather": "VMC", "has_narrative": true, "synthetic": false
}))]
pub(crate) struct EventSummaryBody {
    /// NTSB event id.
    ev_id: Option<String>,
    /// NTSB case number.
    ntsb_no: Option<String>,
    /// YYYY-MM-DD.
    event_date: Option<String>,
    /// accident, incident, …
    event_type: Option<String>,
    /// Two-letter state code.
    state: Option<String>,
    /// City or place.
    city: Option<String>,
    /// Country.
    country: Option<String>,
    /// Decimal degrees.
    latitude: Option<f64>,
    /// Decimal degrees.
    longitude: Option<f64>,
    /// fatal, serious, minor, none or unknown.
    highest_injury: Option<String>,
    /// People injured, whole event.
    injuries: InjuriesBody,
    /// Normalised make of the first aircraft.
    make: Option<String>,
    /// Model of the first aircraft.
    model: Option<String>,
    /// Broad phase of flight.
    phase: Option<String>,
    /// VMC, IMC or unknown.
    weather: Option<String>,
    /// Whether narrative or probable-cause text exists.
    has_narrative: bool,
    /// True for the synthetic demo sample.
    synthetic: bool,
}

/// One page of events.
#[derive(ToSchema)]
#[schema(as = EventPage)]
pub(crate) struct EventPageBody {
    /// The events of this page.
    items: Vec<EventSummaryBody>,
    /// Every match of the filters.
    #[schema(example = 1234)]
    total: u64,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = "eyJkIjoiMjAwOC0wMS0yMCJ9")]
    next_cursor: Option<String>,
}

/// Everything known about one event: the listing fields plus airport, time,
/// light, report status, `aircraft` (with `engines`), `crew`, `injury_rows`,
/// `findings` (decoded, `cause_factor`), `occurrences`, `narrative`,
/// `probable_cause`, `recommendations`, `revisions` and `sources`.
#[derive(ToSchema)]
#[schema(as = EventDetail, example = json!({
    "ev_id": "20080124X00101", "ntsb_no": "NYC08CA068", "event_date": "2008-01-20", "state": "NY",
    "highest_injury": "none", "injuries": {"fatal": 0, "serious": 0, "minor": 0, "none": 2},
    "aircraft": [{"aircraft_key": 1, "make": "Cessna", "model": "172S", "damage": "substantial",
                  "engines": [{"eng_no": 1, "eng_type": "REC"}]}],
    "findings": [{"aircraft_key": 1, "finding_no": 1, "code": "0203201010",
                  "description": "Personnel issues-Task performance-Use of equip/info-Aircraft control-Pilot",
                  "cause_factor": "cause"}],
    "narrative": "The pilot reported that …", "probable_cause": "The pilot's failure to maintain …",
    "revisions": [], "sources": [{"load_id": 1, "path": "avall.mdb", "format": "access", "loaded_at": "2024-01-01T00:00:00Z"}]
}))]
pub(crate) struct EventDetailBody {
    #[serde(flatten)]
    summary: EventSummaryBody,
    /// Nearest airport identifier.
    airport_code: Option<String>,
    /// Nearest airport name.
    airport_name: Option<String>,
    /// Local time HH:MM.
    event_time: Option<String>,
    /// Light condition code.
    light_condition: Option<String>,
    /// Report status.
    report_status: Option<String>,
    /// Record status code.
    record_status: Option<String>,
    /// ISO publication date.
    publication_date: Option<String>,
    /// Aircraft with their `engines`, by number.
    aircraft: Vec<serde_json::Value>,
    /// Flight crew.
    crew: Vec<serde_json::Value>,
    /// Per-aircraft injury rows.
    injury_rows: Vec<serde_json::Value>,
    /// Findings: `code`, decoded `description`, `cause_factor`.
    findings: Vec<serde_json::Value>,
    /// Occurrences by phase.
    occurrences: Vec<serde_json::Value>,
    /// Factual narrative.
    narrative: Option<String>,
    /// Probable cause.
    probable_cause: Option<String>,
    /// Safety recommendation texts.
    recommendations: Vec<String>,
    /// Field changes, oldest first.
    revisions: Vec<serde_json::Value>,
    /// Files that contributed.
    sources: Vec<serde_json::Value>,
}

/// One search hit.
#[derive(ToSchema)]
#[schema(as = SearchHit, example = json!({"ev_id": "20080124X00101", "ntsb_no": "NYC08CA068",
    "event_date": "2008-01-20", "score": 12.7, "snippet": "… encountered <mark>carburetor</mark> <mark>icing</mark> …"}))]
pub(crate) struct SearchItemBody {
    ev_id: Option<String>,
    ntsb_no: Option<String>,
    event_date: Option<String>,
    /// Relevance, comparable within one query: BM25 (`bm25`), cosine similarity of the best
    /// chunk (`dense`) or the reciprocal-rank-fusion score (`hybrid`).
    score: f32,
    /// HTML-escaped excerpt: with matches in `<mark>` (`bm25`), the best matching chunk
    /// (`dense`, `hybrid`).
    snippet: String,
}

/// One page of search hits.
#[derive(ToSchema)]
#[schema(as = SearchPage)]
pub(crate) struct SearchPageBody {
    items: Vec<SearchItemBody>,
    /// Matches in all (`dense`, `hybrid`: events ranked, at most 1000).
    total: u64,
    /// The ranking that answered: `bm25`, `dense` or `hybrid`.
    #[schema(example = "hybrid")]
    mode: String,
    /// Why `mode` differs from the one asked for (no sentence vectors loaded), or which years
    /// the vectors cover when they cover part of the store.
    notice: Option<String>,
}

/// One group of a breakdown. The group key is named after the breakdown:
/// `year`, `month`, `season`, `day` + `day_name`, `decade`, `state`, `make`
/// (+ `model`), `phase`, `weather` or `far_part`.
#[derive(ToSchema)]
#[schema(as = BreakdownRow, example = json!({"year": 2015, "events": 1290, "fatal_events": 210, "fatalities": 380,
    "serious_injuries": 140, "destroyed": 190, "fatal_rate": 0.1628, "fatal_rate_ci95": [0.1432, 0.1844]}))]
pub(crate) struct BreakdownRowBody {
    /// Events in the group.
    events: u64,
    /// Events with at least one fatality.
    fatal_events: u64,
    /// People killed.
    fatalities: u64,
    /// People seriously injured.
    serious_injuries: u64,
    /// Events where an aircraft was destroyed.
    destroyed: u64,
    /// fatal_events / events.
    fatal_rate: f64,
    /// Wilson 95% interval of fatal_rate.
    fatal_rate_ci95: [f64; 2],
}

/// Rows of a breakdown.
#[derive(ToSchema)]
#[schema(as = Breakdown)]
pub(crate) struct BreakdownBody {
    items: Vec<BreakdownRowBody>,
}

/// Totals over the filtered events.
#[derive(ToSchema)]
#[schema(as = Summary, example = json!({"events": 5000, "accidents": 4700, "incidents": 300, "fatal_events": 800,
    "fatalities": 1400, "serious_injuries": 600, "minor_injuries": 900, "aircraft": 5100, "destroyed": 700,
    "first_event": "1982-01-01", "last_event": "2024-12-30", "fatal_rate": 0.16, "fatal_rate_ci95": [0.15, 0.17]}))]
pub(crate) struct SummaryBody {
    events: u64,
    accidents: u64,
    incidents: u64,
    fatal_events: u64,
    fatalities: u64,
    serious_injuries: u64,
    minor_injuries: u64,
    aircraft: u64,
    destroyed: u64,
    first_event: Option<String>,
    last_event: Option<String>,
    fatal_rate: f64,
    fatal_rate_ci95: [f64; 2],
}

/// A finding and how often it is cited.
#[derive(ToSchema)]
#[schema(as = FindingRow)]
pub(crate) struct FindingRowBody {
    code: String,
    description: Option<String>,
    events: u64,
    cited_as_cause: u64,
    cause_share: f64,
}

/// Top findings.
#[derive(ToSchema)]
#[schema(as = Findings)]
pub(crate) struct FindingsBody {
    items: Vec<FindingRowBody>,
}

/// An occurrence and how often it appears.
#[derive(ToSchema)]
#[schema(as = OccurrenceRow)]
pub(crate) struct OccurrenceRowBody {
    code: String,
    meaning: Option<String>,
    events: u64,
    defining: u64,
}

/// Top occurrences.
#[derive(ToSchema)]
#[schema(as = Occurrences)]
pub(crate) struct OccurrencesBody {
    items: Vec<OccurrenceRowBody>,
}

/// One cell of a density grid.
#[derive(ToSchema)]
#[schema(as = GridCell)]
pub(crate) struct GridCellBody {
    lat: f64,
    lon: f64,
    events: u64,
    fatal_events: u64,
}

/// A density grid.
#[derive(ToSchema)]
#[schema(as = Density)]
pub(crate) struct DensityBody {
    cell_degrees: f64,
    items: Vec<GridCellBody>,
}

/// A density-based cluster.
#[derive(ToSchema)]
#[schema(as = Cluster)]
pub(crate) struct ClusterBody {
    id: u32,
    lat: f64,
    lon: f64,
    events: u64,
    fatal_events: u64,
    radius_km: f64,
    ev_ids: Vec<String>,
}

/// Clusters, largest first.
#[derive(ToSchema)]
#[schema(as = Clusters)]
pub(crate) struct ClustersBody {
    items: Vec<ClusterBody>,
}

/// A GeoJSON FeatureCollection (RFC 7946) of Point features whose properties are
/// the EventSummary fields (without latitude/longitude), plus `distance_km` for
/// radius searches.
#[derive(ToSchema)]
#[schema(as = FeatureCollection, example = json!({"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-150.0, 61.2]},
     "properties": {"ev_id": "20080124X00101", "event_date": "2008-01-20", "highest_injury": "fatal"}}]}))]
pub(crate) struct FeatureCollectionBody {
    /// Always `FeatureCollection`.
    #[serde(rename = "type")]
    type_: String,
    /// Point features (null geometry for events without coordinates, in exports).
    features: Vec<serde_json::Value>,
}
