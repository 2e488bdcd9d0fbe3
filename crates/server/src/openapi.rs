//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//!
//! The response schemas here describe the JSON the handlers produce from the
//! model's query types ([`ntsb_model::query`]), which stay free of HTTP and
//! documentation concerns. Tests serialise real values and check that their
//! fields are exactly the schema's properties, so the two cannot drift apart.

// The structs below exist only to be described; they are never built.
#![allow(dead_code)]

use utoipa::{IntoParams, OpenApi, ToSchema};

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

/// States in the document the rules [`crate::params`] enforces on query
/// parameters, from the rules themselves: the years `year` accepts, the shape
/// of `state` and `far_part`, and for every other free-text parameter that it
/// must not be blank nor longer than [`crate::params::MAX_VALUE_CHARS`].
/// Operations with parameters also document the 400 a bad one gets.
fn constrain_parameters(doc: &mut utoipa::openapi::OpenApi) {
    use crate::params;
    use utoipa::Number;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{Schema, SchemaFormat, SchemaType, Type};
    let years = params::year_range();
    for (path, op) in operations(doc) {
        if op.request_body.is_some() {
            op.responses.responses.entry("400".into()).or_insert_with(|| {
                problem("The body is not a JSON object of this shape (`invalid_parameter`, naming the field)")
            });
            op.responses.responses.entry("413".into()).or_insert_with(|| problem("The body is too large"));
        }
        let Some(parameters) = op.parameters.as_mut() else { continue };
        // The live streams take the event filters but not full text (`routes/stream.rs`).
        if path.starts_with("/api/v1/stream") {
            parameters.retain(|p| p.name != "q");
        }
        let mut any_query = false;
        for parameter in parameters.iter_mut().filter(|p| p.parameter_in == ParameterIn::Query) {
            any_query = true;
            let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() else { continue };
            let is_string = matches!(&schema.schema_type, SchemaType::Type(Type::String))
                || matches!(&schema.schema_type, SchemaType::Array(types) if types.contains(&Type::String));
            match parameter.name.as_str() {
                "year" => {
                    schema.minimum = Some(Number::Int(*years.start() as isize));
                    schema.maximum = Some(Number::Int(*years.end() as isize));
                }
                "state" => schema.pattern = Some(params::STATE_PATTERN.into()),
                "far_part" => schema.pattern = Some(params::FAR_PART_PATTERN.into()),
                "bbox" => schema.pattern = Some(params::BBOX_PATTERN.into()),
                _ if is_string && schema.enum_values.is_none() && schema.format.is_none() => {
                    schema.pattern.get_or_insert_with(|| params::TEXT_PATTERN.into());
                }
                _ => {}
            }
            if is_string && !matches!(schema.format, Some(SchemaFormat::KnownFormat(_))) {
                schema.max_length.get_or_insert(params::MAX_VALUE_CHARS);
            }
        }
        // Search refuses a request without words (`routes/search.rs`).
        if path == "/api/v1/search"
            && let Some(q) = parameters.iter_mut().find(|p| p.name == "q")
        {
            q.required = utoipa::openapi::Required::True;
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
    components(schemas(Problem, InjuryLevelParam, DamageParam, PhaseParam, WeatherParam, EventTypeParam, SortParam)),
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
// Parameters

/// Highest injury of an event.
#[derive(ToSchema)]
#[schema(as = InjuryLevel)]
#[serde(rename_all = "snake_case")]
pub(crate) enum InjuryLevelParam {
    Fatal,
    Serious,
    Minor,
    None,
    Unknown,
}

/// Aircraft damage.
#[derive(ToSchema)]
#[schema(as = Damage)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DamageParam {
    Destroyed,
    Substantial,
    Minor,
    None,
    Unknown,
}

/// Broad phase of flight.
#[derive(ToSchema)]
#[schema(as = Phase)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PhaseParam {
    Standing,
    Taxi,
    Takeoff,
    Climb,
    Cruise,
    Descent,
    Approach,
    GoAround,
    Landing,
    Maneuvering,
    Hover,
    Other,
    Unknown,
}

/// Weather condition.
#[derive(ToSchema)]
#[schema(as = Weather)]
pub(crate) enum WeatherParam {
    #[serde(rename = "VMC")]
    Vmc,
    #[serde(rename = "IMC")]
    Imc,
    #[serde(rename = "unknown")]
    Unknown,
}

/// Kind of event.
#[derive(ToSchema)]
#[schema(as = EventType)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EventTypeParam {
    Accident,
    Incident,
    Occurrence,
    Unknown,
}

/// Order of an event listing; `-` means descending.
#[derive(ToSchema)]
#[schema(as = Sort)]
pub(crate) enum SortParam {
    #[serde(rename = "date")]
    Date,
    #[serde(rename = "-date")]
    DateDesc,
    #[serde(rename = "fatalities")]
    Fatalities,
    #[serde(rename = "-fatalities")]
    FatalitiesDesc,
    #[serde(rename = "state")]
    State,
    #[serde(rename = "-state")]
    StateDesc,
    #[serde(rename = "make")]
    Make,
    #[serde(rename = "-make")]
    MakeDesc,
}

/// The event filters: every one optional, all combined with AND. Aircraft-level
/// filters (damage, make, model, category, far_part) match when any aircraft does.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FilterParams {
    /// Earliest event date, inclusive (YYYY-MM-DD).
    #[param(format = Date, example = "2010-01-01")]
    from: Option<String>,
    /// Latest event date, inclusive (YYYY-MM-DD); not before `from`.
    #[param(format = Date, example = "2019-12-31")]
    to: Option<String>,
    /// Calendar year.
    #[param(minimum = 1900, example = 2015)]
    year: Option<i32>,
    /// Two-letter state code (any case).
    #[param(example = "AK")]
    state: Option<String>,
    /// Country as NTSB spells it (any case).
    #[param(example = "United States")]
    country: Option<String>,
    /// Highest injury of the event.
    #[param(inline)]
    highest_injury: Option<InjuryLevelParam>,
    /// Damage of any aircraft.
    #[param(inline)]
    damage: Option<DamageParam>,
    /// Make of any aircraft (normalised: `CESSNA AIRCRAFT CO` matches `Cessna`).
    #[param(example = "Cessna")]
    make: Option<String>,
    /// Model prefix of any aircraft (any case).
    #[param(example = "172")]
    model: Option<String>,
    /// Aircraft category code of any aircraft (`AIR`, `HELI`, …).
    #[param(example = "AIR")]
    category: Option<String>,
    /// FAR part of any aircraft (`91` matches `091`).
    #[param(example = "91")]
    far_part: Option<String>,
    /// Broad phase of flight.
    #[param(inline)]
    phase: Option<PhaseParam>,
    /// Weather condition.
    #[param(inline)]
    weather: Option<WeatherParam>,
    /// Accident, incident, …
    #[param(inline)]
    event_type: Option<EventTypeParam>,
    /// Only events with (true) or without (false) narrative text.
    has_narrative: Option<bool>,
    /// Bounding box `min_lon,min_lat,max_lon,max_lat` (degrees, no antimeridian wrap; each
    /// minimum at most its maximum).
    #[param(example = "-125,24,-66,50")]
    bbox: Option<String>,
    /// Free text over narratives and probable causes (required by /api/v1/search).
    #[param(example = "carburetor icing")]
    q: Option<String>,
}

/// Sorting and paging of the event listing.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageParams {
    /// Sort order (default `-date`, newest first).
    #[param(inline)]
    sort: Option<SortParam>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000, example = 50)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page (same filters and sort).
    cursor: Option<String>,
}

/// Paging of search results (`q` is among the filters).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParams {
    /// Hits per page, 1 to 1000 (default 20).
    #[param(minimum = 1, maximum = 1000, example = 20)]
    limit: Option<u32>,
    /// Hits to skip, 0 to 10000.
    #[param(minimum = 0, maximum = 10000, example = 0)]
    offset: Option<u32>,
    /// Ranking: `bm25` (default), `dense` (sentence embeddings) or `hybrid` (both, reciprocal rank fusion).
    #[param(pattern = "^(bm25|dense|hybrid)$", example = "hybrid")]
    mode: Option<String>,
}

/// Row limit of a breakdown.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LimitParams {
    /// Most rows, 1 to 10000.
    #[param(minimum = 1, maximum = 10000, example = 20)]
    limit: Option<u32>,
}

/// Row limit of the findings and occurrences.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CodeLimitParams {
    /// Most rows, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000, example = 20)]
    limit: Option<u32>,
}

/// Row limit and minimum group size.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MinCountParams {
    /// Most rows, 1 to 10000.
    #[param(minimum = 1, maximum = 10000, example = 20)]
    limit: Option<u32>,
    /// Leave out groups with fewer events, 1 to 1000000 (default 1).
    #[param(minimum = 1, maximum = 1000000, example = 100)]
    min_count: Option<u32>,
}

/// Feature limit.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GeoLimitParams {
    /// Most features, 1 to 10000 (default 1000).
    #[param(minimum = 1, maximum = 10000, example = 500)]
    limit: Option<u32>,
}

/// Centre and radius.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RadiusParams {
    /// Latitude of the centre, degrees.
    #[param(minimum = -90, maximum = 90, example = 61.17)]
    lat: f64,
    /// Longitude of the centre, degrees.
    #[param(minimum = -180, maximum = 180, example = -150.0)]
    lon: f64,
    /// Radius in km (greater than 0).
    #[param(exclusive_minimum = 0, maximum = 20040, example = 50)]
    km: f64,
    /// Most features, 1 to 10000 (default 1000).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u32>,
}

/// Grid cell size.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DensityParams {
    /// Cell size in degrees, 0.01 to 45 (default 1).
    #[param(minimum = 0.01, maximum = 45, example = 0.5)]
    cell: Option<f64>,
}

/// DBSCAN settings.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ClusterParams {
    /// Neighbourhood radius in km, more than 0 and at most 500 (default 25).
    #[param(exclusive_minimum = 0, maximum = 500, example = 25)]
    eps_km: Option<f64>,
    /// Neighbours (self included) that make a core point, 2 to 10000 (default 5).
    #[param(minimum = 2, maximum = 10000, example = 5)]
    min_points: Option<u32>,
    /// Most clusters, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

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
