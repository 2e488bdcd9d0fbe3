//! `POST /api/v1/ml/predict`, `POST /api/v1/ml/predict/batch` and
//! `GET /api/v1/ml/models`: scoring events with the trained models.
//!
//! Bodies are parsed by hand from JSON so every mistake gets a 400 that names the
//! field (`items[3].features.latitude`). A model that is not loaded (none
//! trained yet, or its file refused) is a 503 `unavailable`, so the server runs
//! without models and starts answering when they appear (see
//! [`ntsb_ml::Registry::reload`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use ntsb_ml::{Facts, Model, ModelKind, Prediction};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::json_response;
use crate::access::AuthUser;
use crate::error::{ApiError, Problem};
use crate::state::{AppState, blocking, blocking_cpu};

/// Most items in one batch.
pub const MAX_BATCH: usize = 1000;
/// Contributions explained in plain words per prediction.
const EXPLAINED: usize = 5;
/// Contributions listed per prediction unless the request asks for another
/// number (`"contributions": 12` or `"all"`): the ones explained in words.
const LISTED_BY_DEFAULT: usize = EXPLAINED;
/// Longest event id looked up.
const MAX_ID_CHARS: usize = 40;

/// A request to score one event: a stored one (`ev_id`) or given facts (`features`).
#[derive(Debug, ToSchema)]
#[schema(example = json!({"model": "fatal", "features": {"event_date": "2015-07-04", "make": "Cessna",
    "phase": "maneuvering", "weather": "IMC", "damage": "destroyed", "num_engines": 1}}))]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct PredictRequest {
    /// The model.
    #[schema(inline)]
    model: ModelNameParam,
    /// Score the stored event with this id (give this or `features`).
    #[schema(pattern = r"^\s*[A-Za-z0-9_-]{1,40}\s*$")]
    ev_id: Option<String>,
    /// Facts of the event; every field is optional (give this or `ev_id`).
    features: Option<FactsBody>,
    /// How many of the largest contributions to list: a number (default 5) or
    /// `"all"`. The others are summed in `unlisted_contribution`.
    #[schema(schema_with = contributions_asked)]
    contributions: Option<Value>,
}

/// Facts of an event. Missing or null fields are "not known": leave out what you
/// do not know. The text `unknown` (or `unk`) is a value of its own, the one a
/// record gives when the investigation could not determine a fact; the models
/// read it as such (an unknown phase of flight is mostly fatal), so send it only
/// in that sense. Categories are matched case-insensitively; unknown ones are
/// scored as "other" and listed in `unknown_categories`. Fields a model does not
/// read are listed in `ignored_fields`.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct FactsBody {
    /// Event date, YYYY-MM-DD (1900–2100).
    #[schema(format = Date)]
    event_date: Option<String>,
    /// US state, two letters.
    state: Option<String>,
    /// Country.
    country: Option<String>,
    /// Latitude, -90..90.
    #[schema(minimum = -90, maximum = 90)]
    latitude: Option<f64>,
    /// Longitude, -180..180.
    #[schema(minimum = -180, maximum = 180)]
    longitude: Option<f64>,
    /// Airport code, when at or near an airport.
    airport_code: Option<String>,
    /// That airport's name (its kind, such as a private strip or a seaplane base, is a feature).
    airport_name: Option<String>,
    /// Light condition code.
    light_condition: Option<String>,
    /// `VMC` or `IMC`.
    weather: Option<String>,
    /// Broad phase of flight (`takeoff`, `cruise`, `landing`, …).
    phase: Option<String>,
    /// Aircraft make.
    make: Option<String>,
    /// Aircraft model.
    model: Option<String>,
    /// Aircraft category code (`AIR`, `HELI`, …).
    category: Option<String>,
    /// Amateur-built.
    amateur_built: Option<bool>,
    /// Number of engines, 0..24.
    #[schema(minimum = 0, maximum = 24)]
    num_engines: Option<i64>,
    /// Engine type.
    engine_type: Option<String>,
    /// FAR part (`091`, `121`, …).
    far_part: Option<String>,
    /// Scheduled or not.
    schedule: Option<String>,
    /// Purpose of flight.
    purpose: Option<String>,
    /// Pilot age, 0..120.
    #[schema(minimum = 0, maximum = 120)]
    pilot_age: Option<i64>,
    /// Pilot total flight hours, 0..200000.
    #[schema(minimum = 0, maximum = 200000)]
    pilot_total_hours: Option<f64>,
    /// Worst aircraft damage (read by `fatal` and `severity` only).
    damage: Option<String>,
    /// Aircraft involved, 1..100 (read by `fatal` and `severity` only).
    #[schema(minimum = 1, maximum = 100)]
    aircraft_count: Option<i64>,
}

/// Many events scored by one model.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct BatchRequest {
    /// The model.
    #[schema(inline)]
    model: ModelNameParam,
    /// Up to 1,000 items, each `{"ev_id": …}` or `{"features": {…}}`.
    #[schema(max_items = 1000)]
    items: Vec<BatchItem>,
    /// How many of the largest contributions to list per item: a number
    /// (default 5) or `"all"`.
    #[schema(schema_with = contributions_asked)]
    contributions: Option<Value>,
}

/// A model's name.
// The names of `ModelKind`; a test checks they agree.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum ModelNameParam {
    Fatal,
    Risk,
    Severity,
}

/// The schema of a request's `contributions`: a count (0 or more) or `"all"`.
fn contributions_asked() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    let one_of = OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
        .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["all"])))
        .description(Some(
            "How many of the largest contributions to list (default 5), or `\"all\"`; the others are summed \
             in `unlisted_contribution`.",
        ))
        .examples([Value::from("all"), Value::from(10)])
        .build();
    Schema::OneOf(one_of)
}

/// One item of a batch.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct BatchItem {
    /// A stored event.
    #[schema(pattern = r"^\s*[A-Za-z0-9_-]{1,40}\s*$")]
    ev_id: Option<String>,
    /// Or the facts of an event.
    features: Option<FactsBody>,
}

/// One feature's part of the score.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct ContributionBody {
    /// Feature name.
    feature: &'static str,
    /// The value the model saw.
    #[schema(value_type = String)]
    value: Cow<'static, str>,
    /// Change of the raw score (log-odds) due to this feature.
    contribution: f64,
}

/// A scored event (written by [`Scorer::write_json`]; this type documents the
/// shape, and a test checks the two agree).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct PredictionBody {
    /// Model name.
    model: &'static str,
    /// Model version (name and checksum prefix).
    version: String,
    /// The stored event scored, when asked by `ev_id`.
    ev_id: Option<String>,
    /// Predicted class (`fatal`/`not_fatal`; `none`/`minor`/`serious`/`fatal` for severity).
    class: &'static str,
    /// Calibrated probability: of `fatal` for the binary models, of the predicted class for severity.
    probability: f64,
    /// Calibrated probability of every class.
    probabilities: BTreeMap<&'static str, f64>,
    /// The raw score explained (log-odds of `fatal`, or the predicted class's logit).
    raw_score: f64,
    /// The part of the raw score common to every event;
    /// `bias + sum(contributions) + unlisted_contribution == raw_score`.
    bias: f64,
    /// The largest contributions, largest first: 5 unless the request's
    /// `contributions` asks for another number or `"all"`.
    contributions: Vec<ContributionBody>,
    /// The sum of the contributions not listed (0 when all are).
    unlisted_contribution: f64,
    /// The largest contributions in plain words.
    explanation: Vec<String>,
    /// Features whose category the model did not know (scored as "other").
    unknown_categories: Vec<String>,
    /// Given fields the model does not read.
    ignored_fields: Vec<&'static str>,
}

/// Scores of a batch, in request order (written item by item by
/// `batch_response`; this type documents the shape).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct BatchBody {
    /// One prediction per item.
    items: Vec<PredictionBody>,
}

/// A served model.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelBody {
    /// Model name.
    model: String,
    /// Version (name and checksum prefix).
    version: String,
    /// sha256 of the model content.
    checksum: String,
    /// What it predicts.
    description: String,
    /// Classes.
    classes: Vec<String>,
    /// Features read.
    features: Vec<String>,
    /// Events trained on.
    trained_rows: usize,
    /// Trained on events up to this date, when limited.
    train_until: Option<String>,
    /// Boosting rounds.
    rounds: usize,
    /// How the held-out metrics were measured.
    held_out_split: Option<String>,
    /// Held-out metrics of the trees.
    #[schema(value_type = Object)]
    metrics: BTreeMap<String, f64>,
    /// Held-out metrics of the logistic baseline on the same split.
    #[schema(value_type = Object)]
    baseline_metrics: BTreeMap<String, f64>,
}

/// The served models.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelsBody {
    /// Loaded models, by name.
    items: Vec<ModelBody>,
}

fn json_body(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    crate::json::object(body)
}

fn check_keys(map: &Map<String, Value>, allowed: &[&str], prefix: &str) -> Result<(), ApiError> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(ApiError::invalid(
                format!("{prefix}{key}"),
                format!("unknown field; expected {}", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The model named in the body, loaded.
fn model_of(state: &AppState, map: &Map<String, Value>) -> Result<Arc<Model>, ApiError> {
    let name = match map.get("model") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(ApiError::invalid("model", "expected a string: fatal, risk or severity")),
        None => return Err(ApiError::invalid("model", "required: fatal, risk or severity")),
    };
    let kind = ModelKind::parse(name)
        .ok_or_else(|| ApiError::invalid("model", format!("{name:?} is not a model; use fatal, risk or severity")))?;
    state.ml.get(kind).ok_or_else(|| {
        ApiError::Unavailable(format!(
            "the {name} model is not loaded; train it with `ntsb ml train --model {name}` (the server picks it up \
             without a restart)"
        ))
    })
}

/// How many contributions the request lists per prediction: `contributions`,
/// a number or `"all"` (default [`LISTED_BY_DEFAULT`]).
fn listed(map: &Map<String, Value>) -> Result<usize, ApiError> {
    const EXPECTED: &str = "expected a number of contributions to list (0 or more) or \"all\"";
    match map.get("contributions") {
        None | Some(Value::Null) => Ok(LISTED_BY_DEFAULT),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("all") => Ok(usize::MAX),
        // JSON does not tell 10 from 10.0: an integral float is that integer.
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|x| x.fract() == 0.0 && *x >= 0.0).map(|x| x as u64))
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .ok_or_else(|| ApiError::invalid("contributions", EXPECTED)),
        Some(_) => Err(ApiError::invalid("contributions", EXPECTED)),
    }
}

/// What one item asks for, validated.
enum Subject {
    Stored(String),
    Given(Box<Facts>),
}

fn subject(map: &Map<String, Value>, prefix: &str) -> Result<Subject, ApiError> {
    match (map.get("ev_id").filter(|v| !v.is_null()), map.get("features").filter(|v| !v.is_null())) {
        (Some(_), Some(_)) => {
            Err(ApiError::invalid(format!("{prefix}ev_id"), "give either ev_id or features, not both"))
        }
        (None, None) => Err(ApiError::invalid(format!("{prefix}features"), "required (or ev_id)")),
        (Some(v), None) => {
            let id = v.as_str().ok_or_else(|| ApiError::invalid(format!("{prefix}ev_id"), "expected a string"))?;
            let id = id.trim();
            let plausible = !id.is_empty()
                && id.chars().count() <= MAX_ID_CHARS
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !plausible {
                return Err(ApiError::invalid(format!("{prefix}ev_id"), "not an NTSB event id"));
            }
            Ok(Subject::Stored(id.to_string()))
        }
        (None, Some(v)) => {
            Facts::from_json(v, &format!("{prefix}features")).map(|f| Subject::Given(Box::new(f))).map_err(ml_error)
        }
    }
}

fn ml_error(e: ntsb_ml::Error) -> ApiError {
    match e {
        ntsb_ml::Error::InvalidInput { field, reason } => ApiError::InvalidParameter { parameter: field, reason },
        ntsb_ml::Error::Store(e) => ApiError::from(e),
        other => ApiError::internal(format!("ml: {other}")),
    }
}

/// Facts of a subject (reads the store for stored events; call on the blocking pool).
fn facts_of(state: &AppState, subject: Subject, prefix: &str) -> Result<(Facts, Option<String>), ApiError> {
    match subject {
        Subject::Given(f) => Ok((*f, None)),
        Subject::Stored(id) => {
            let training = state
                .training
                .as_ref()
                .ok_or_else(|| ApiError::Unavailable("this server cannot read stored events for scoring".into()))?;
            match training.training_row(&id)? {
                Some(row) => Ok((Facts::from(row), Some(id))),
                None => Err(ApiError::NotFound(format!("{prefix}ev_id: no event with ev_id {id:?}"))),
            }
        }
    }
}

/// What every prediction of one model in one request shares, worked out once.
struct Scorer<'a> {
    model: &'a Model,
    /// Contributions listed per prediction.
    listed: usize,
    version: String,
    /// The raw fields the model reads.
    read: Vec<&'static str>,
    /// Class indices in the order of their names (a JSON object of
    /// probabilities lists them sorted, as a `BTreeMap` would).
    classes_by_name: Vec<usize>,
}

impl<'a> Scorer<'a> {
    fn new(model: &'a Model, listed: usize) -> Scorer<'a> {
        let read = model.features.iter().flat_map(|f| f.sources().iter().copied()).collect();
        let classes = model.kind.classes();
        let mut classes_by_name: Vec<usize> = (0..classes.len()).collect();
        classes_by_name.sort_by_key(|&c| classes[c]);
        Scorer { model, listed, version: model.version(), read, classes_by_name }
    }

    /// The JSON answer for one event.
    fn predict(&self, facts: &Facts, ev_id: Option<&str>) -> Response {
        let mut out = Vec::with_capacity(self.item_bytes());
        self.write_json(&mut out, facts, ev_id, self.model.predict_top(facts, self.described()));
        json_response(out)
    }

    /// About the bytes of one answer, to size a response buffer once instead of
    /// growing it a dozen times: a `fatal` answer is 1.2 kB with its 5 largest
    /// contributions, 2.6 kB with all 25.
    fn item_bytes(&self) -> usize {
        1024 + 100 * self.listed.min(self.model.features.len())
    }

    /// How many contributions to describe: those listed, and at least those
    /// explained in words.
    fn described(&self) -> usize {
        self.listed.max(EXPLAINED)
    }

    /// Appends the answer for an event scored as `p` (with at least
    /// [`Scorer::described`] contributions): a [`PredictionBody`] whose words
    /// explain the five largest contributions and which lists the first
    /// `listed` of them ([`Prediction::keep_listed`] sums the rest).
    ///
    /// Written by hand rather than by serde: a batch of 100 writes 500
    /// contributions (2,500 with `"all"`), and building a body of owned parts to serialise cost more
    /// than scoring them. Keys are literals; strings go through
    /// [`push_json_str`], numbers through serde_json (the same digits as
    /// serialising them, `null` for a non-finite one).
    fn write_json(&self, out: &mut Vec<u8>, facts: &Facts, ev_id: Option<&str>, mut p: Prediction) {
        let model = self.model;
        let explanation = model.explain(&p, EXPLAINED);
        p.keep_listed(self.listed);
        let classes = model.kind.classes();
        let probability = if model.kind.is_binary() { p.probabilities[1] } else { p.probabilities[p.class] };
        out.extend_from_slice(b"{\"model\":");
        push_json_str(out, model.kind.name());
        out.extend_from_slice(b",\"version\":");
        push_json_str(out, &self.version);
        out.extend_from_slice(b",\"ev_id\":");
        match ev_id {
            Some(id) => push_json_str(out, id),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"class\":");
        push_json_str(out, classes[p.class]);
        out.extend_from_slice(b",\"probability\":");
        push_json_f64(out, probability);
        out.extend_from_slice(b",\"probabilities\":{");
        for (i, &class) in self.classes_by_name.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_json_str(out, classes[class]);
            out.push(b':');
            push_json_f64(out, p.probabilities[class]);
        }
        out.extend_from_slice(b"},\"raw_score\":");
        push_json_f64(out, p.raw_score);
        out.extend_from_slice(b",\"bias\":");
        push_json_f64(out, p.bias);
        out.extend_from_slice(b",\"contributions\":[");
        for (i, c) in p.contributions.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"feature\":");
            push_json_str(out, c.feature.name());
            out.extend_from_slice(b",\"value\":");
            push_json_str(out, &c.value);
            out.extend_from_slice(b",\"contribution\":");
            push_json_f64(out, c.contribution);
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"unlisted_contribution\":");
        push_json_f64(out, p.unlisted);
        out.extend_from_slice(b",\"explanation\":");
        push_json_strs(out, explanation.iter().map(String::as_str));
        out.extend_from_slice(b",\"unknown_categories\":");
        push_json_strs(out, p.unknown_categories.iter().map(String::as_str));
        out.extend_from_slice(b",\"ignored_fields\":");
        push_json_strs(out, facts.present_fields().into_iter().filter(|f| !self.read.contains(f)));
        out.push(b'}');
    }
}

/// Appends `s` as a JSON string. Most strings here need no escaping and are
/// copied as they are; the others are escaped by serde_json.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, s).is_err() {
        // Writing a string to a Vec cannot fail.
        out.extend_from_slice(b"null");
    }
}

/// Appends an array of JSON strings.
fn push_json_strs<'s>(out: &mut Vec<u8>, strings: impl Iterator<Item = &'s str>) {
    out.push(b'[');
    for (i, s) in strings.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, s);
    }
    out.push(b']');
}

/// Appends a number as serde_json writes it (`null` when not finite).
fn push_json_f64(out: &mut Vec<u8>, x: f64) {
    if serde_json::to_writer(&mut *out, &x).is_err() {
        // Writing a number to a Vec cannot fail.
        out.extend_from_slice(b"null");
    }
}

#[utoipa::path(post, path = "/api/v1/ml/predict", tag = "machine learning", summary = "Score one event",
    description = "Scores a stored event (`ev_id`) or given facts (`features`) with the `fatal`, `risk` or \
        `severity` model: calibrated probability, class, the five largest feature contributions to the raw score \
        (or as many as `contributions` asks, `\"all\"` for every feature's; with `bias` and \
        `unlisted_contribution` they add up exactly to `raw_score`), and the five largest in plain words.",
    request_body = PredictRequest,
    responses(
        (status = 200, description = "The prediction", body = PredictionBody),
        (status = 400, description = "A field is invalid (the problem names it)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No stored event with that ev_id", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The model is not loaded", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn predict(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let map = json_body(&body)?;
    check_keys(&map, &["model", "ev_id", "features", "contributions"], "")?;
    let model = model_of(&state, &map)?;
    let listed = listed(&map)?;
    let subject = subject(&map, "")?;
    let (metrics, name, started) = (state.metrics.clone(), model.kind.name(), std::time::Instant::now());
    let answer = blocking(move || {
        let (facts, ev_id) = facts_of(&state, subject, "")?;
        Ok(Scorer::new(&model, listed).predict(&facts, ev_id.as_deref()))
    })
    .await;
    metrics.prediction(name, 1, started.elapsed(), answer.is_ok());
    answer
}

#[utoipa::path(post, path = "/api/v1/ml/predict/batch", tag = "machine learning", summary = "Score many events",
    description = "Up to 1,000 items, each `{\"ev_id\": …}` or `{\"features\": {…}}`, scored by one model; \
        the answers come in the same order. An invalid item fails the whole request with a 400 naming it \
        (`items[3].features.latitude`). Costs one unit of the daily quota per item, charged before \
        scoring: 429 `quota_exceeded` when less is left.",
    request_body = BatchRequest,
    responses(
        (status = 200, description = "One prediction per item, in order", body = BatchBody),
        (status = 400, description = "A field is invalid (the problem names it)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "An item's ev_id is not stored", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The model is not loaded", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn predict_batch(
    State(state): State<AppState>,
    AuthUser(who): AuthUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let map = json_body(&body)?;
    check_keys(&map, &["model", "items", "contributions"], "")?;
    let items = match map.get("items") {
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::invalid("items", "expected an array")),
        None => return Err(ApiError::invalid("items", "required: an array of {ev_id} or {features}")),
    };
    if items.len() > MAX_BATCH {
        return Err(ApiError::invalid("items", format!("at most {MAX_BATCH} items, got {}", items.len())));
    }
    let model = model_of(&state, &map)?;
    let listed = listed(&map)?;
    let mut subjects = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("items[{i}].");
        let obj = item.as_object().ok_or_else(|| ApiError::invalid(format!("items[{i}]"), "expected an object"))?;
        check_keys(obj, &["ev_id", "features"], &prefix)?;
        subjects.push((subject(obj, &prefix)?, prefix));
    }
    let count = subjects.len() as u64;
    // One unit of the daily quota per item (the request's own unit is the first).
    let charged = crate::access::charge(state.auth.as_ref(), &who, count.saturating_sub(1)).await?;
    let (metrics, name, started) = (state.metrics.clone(), model.kind.name(), std::time::Instant::now());
    let answer = blocking_cpu(move || {
        let facts = batch_facts(&state, subjects)?;
        Ok(batch_response(&Scorer::new(&model, listed), facts))
    })
    .await;
    metrics.prediction(name, count, started.elapsed(), answer.is_ok());
    answer.map(|mut res| {
        if let Some(limit) = charged {
            res.extensions_mut().insert(limit);
        }
        res
    })
}

/// The JSON of [`BatchBody`] (on the blocking pool, not the reactor): every
/// item scored at once ([`Model::predict_many_top`], tree by tree), then each
/// answer written as [`Scorer::predict`] writes it alone.
fn batch_response(scorer: &Scorer<'_>, facts: Vec<(Facts, Option<String>)>) -> Response {
    let events: Vec<&Facts> = facts.iter().map(|(f, _)| f).collect();
    let predictions = scorer.model.predict_many_top(&events, scorer.described());
    let mut out = Vec::with_capacity(facts.len() * scorer.item_bytes() + 16);
    out.extend_from_slice(b"{\"items\":[");
    for (i, ((facts, ev_id), p)) in facts.iter().zip(predictions).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        scorer.write_json(&mut out, facts, ev_id.as_deref(), p);
    }
    out.extend_from_slice(b"]}");
    json_response(out)
}

/// Facts of every subject of a batch, in order: the stored events are read
/// with one store call for the whole batch ([`ntsb_store::TrainingData::training_rows_by_ids`]),
/// not one per item. The first stored item (in request order) that is not found
/// is the 404, as when items were read one by one.
fn batch_facts(state: &AppState, subjects: Vec<(Subject, String)>) -> Result<Vec<(Facts, Option<String>)>, ApiError> {
    let stored: Vec<&str> = subjects
        .iter()
        .filter_map(|(s, _)| match s {
            Subject::Stored(id) => Some(id.as_str()),
            Subject::Given(_) => None,
        })
        .collect();
    let mut rows = if stored.is_empty() {
        Vec::new()
    } else {
        let training = state
            .training
            .as_ref()
            .ok_or_else(|| ApiError::Unavailable("this server cannot read stored events for scoring".into()))?;
        training.training_rows_by_ids(&stored)?
    }
    .into_iter();
    subjects
        .into_iter()
        .map(|(subject, prefix)| match subject {
            Subject::Given(f) => Ok((*f, None)),
            Subject::Stored(id) => match rows.next().flatten() {
                Some(row) => Ok((Facts::from(row), Some(id))),
                None => Err(ApiError::NotFound(format!("{prefix}ev_id: no event with ev_id {id:?}"))),
            },
        })
        .collect()
}

#[utoipa::path(get, path = "/api/v1/ml/models", tag = "machine learning", summary = "Served models",
    description = "The models loaded, with their versions, training data and held-out metrics against the \
        logistic baseline. Empty until models are trained; new model files are picked up without a restart.",
    responses((status = 200, description = "The models", body = ModelsBody)))]
pub(crate) async fn models(State(state): State<AppState>) -> Json<ModelsBody> {
    let items = state
        .ml
        .list()
        .iter()
        .map(|m| ModelBody {
            model: m.kind.name().to_string(),
            version: m.version(),
            checksum: m.checksum.clone(),
            description: m.kind.description().to_string(),
            classes: m.kind.classes().iter().map(|c| c.to_string()).collect(),
            features: m.features.iter().map(|f| f.name().to_string()).collect(),
            trained_rows: m.training.rows,
            train_until: m.training.train_until.clone(),
            rounds: m.training.rounds,
            held_out_split: m.held_out.as_ref().map(|h| h.split.clone()),
            metrics: m.held_out.as_ref().map(|h| h.gbdt.clone()).unwrap_or_default(),
            baseline_metrics: m.held_out.as_ref().map(|h| h.baseline.clone()).unwrap_or_default(),
        })
        .collect();
    Json(ModelsBody { items })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_states_the_rules_the_parser_applies() {
        let doc = serde_json::to_value(crate::openapi::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let names: Vec<&str> = ModelKind::ALL.iter().map(|k| k.name()).collect();
        for request in ["PredictRequest", "BatchRequest"] {
            assert_eq!(
                schemas[request]["properties"]["model"]["oneOf"][0]["enum"],
                serde_json::json!(names),
                "{request}"
            );
        }
        assert_eq!(schemas["BatchRequest"]["properties"]["items"]["maxItems"], MAX_BATCH);
        // The facts are parsed by the models' own parser; the document lists the same fields.
        let mut documented: Vec<&str> =
            schemas["FactsBody"]["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        let mut parsed: Vec<&str> = ntsb_ml::features::FACT_FIELDS.to_vec();
        documented.sort_unstable();
        parsed.sort_unstable();
        assert_eq!(documented, parsed);
        let pattern =
            regex::Regex::new(schemas["BatchItem"]["properties"]["ev_id"]["pattern"].as_str().unwrap()).unwrap();
        for id in ["20080124X00101", " ERA22LA123 ", "a-b_c", "", "x y", &"9".repeat(MAX_ID_CHARS + 1)] {
            let trimmed = id.trim();
            let accepted = !trimmed.is_empty()
                && trimmed.chars().count() <= MAX_ID_CHARS
                && trimmed.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            assert_eq!(pattern.is_match(id), accepted, "{id:?}");
        }
    }
}
