//! `POST /api/v1/ml/predict`, `POST /api/v1/ml/predict/batch` and
//! `GET /api/v1/ml/models`: scoring events with the trained models.
//!
//! Bodies are typed ([`PredictRequest`], [`BatchRequest`]) and parsed by
//! [`crate::json::parse`], so every mistake gets a 400 that names the field
//! (`items[3].features.latitude`); the facts are checked by the models' own
//! rules. A model that is not loaded (none
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
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use super::json_response;
use crate::access::AuthUser;
use crate::error::{ApiError, Problem};
use crate::params::values::{EventId, OneOf};
use crate::state::{AppState, blocking, blocking_cpu};

/// Most items in one batch.
pub const MAX_BATCH: usize = 1000;
/// Contributions explained in plain words per prediction.
const EXPLAINED: usize = 5;
/// Contributions listed per prediction unless the request asks for another
/// number (`"contributions": 12` or `"all"`): the ones explained in words.
const LISTED_BY_DEFAULT: usize = EXPLAINED;
/// The body size [`crate::json::parse`] checks: the server's request body
/// limit (`--body-limit`) already bounds these bodies.
const BODY_CHECKED_BY_LAYER: usize = usize::MAX;

/// A model's name (a plain name for the OpenAPI derive: see [`crate::params::filter`]).
type ModelName = OneOf<ModelKind>;

/// A request to score one event: a stored one (`ev_id`) or given facts (`features`).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"model": "fatal", "features": {"event_date": "2015-07-04", "make": "Cessna",
    "phase": "maneuvering", "weather": "IMC", "damage": "destroyed", "num_engines": 1}}))]
#[serde(deny_unknown_fields)]
pub(crate) struct PredictRequest {
    /// The model.
    #[schema(inline)]
    model: ModelName,
    /// Score the stored event with this id (give this or `features`).
    #[schema(inline)]
    ev_id: Option<EventId>,
    /// Facts of the event; every field is optional (give this or `ev_id`).
    #[schema(inline)]
    features: Option<FactsInput>,
    /// How many of the largest contributions to list: a number (default 5) or
    /// `"all"`. The others are summed in `unlisted_contribution`.
    #[schema(inline)]
    contributions: Option<Contributions>,
}

/// Many events scored by one model.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchRequest {
    /// The model.
    #[schema(inline)]
    model: ModelName,
    /// Up to 1,000 items, each `{"ev_id": …}` or `{"features": {…}}`.
    #[schema(max_items = 1000)]
    items: Vec<BatchItem>,
    /// How many of the largest contributions to list per item: a number
    /// (default 5) or `"all"`.
    #[schema(inline)]
    contributions: Option<Contributions>,
}

/// One item of a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchItem {
    /// A stored event.
    #[schema(inline)]
    ev_id: Option<EventId>,
    /// Or the facts of an event.
    #[schema(inline)]
    features: Option<FactsInput>,
}

/// Facts of an event, checked by the models' own rules
/// ([`ntsb_ml::features::FACT_FIELDS`]) and documented from the same table.
#[derive(Debug)]
pub(crate) struct FactsInput(Facts);

impl<'de> Deserialize<'de> for FactsInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Facts::from_json(&value, "").map(FactsInput).map_err(|e| match e {
            ntsb_ml::Error::InvalidInput { field, reason } if !field.is_empty() => {
                crate::json::inner_field_error(&field, &reason)
            }
            other => de::Error::custom(other.to_string()),
        })
    }
}

impl utoipa::PartialSchema for FactsInput {
    fn schema() -> RefOr<Schema> {
        use ntsb_ml::features::{FACT_FIELDS, FactRule, MAX_TEXT};
        use utoipa::openapi::schema::{AdditionalProperties, KnownFormat, SchemaFormat};
        let mut facts = ObjectBuilder::new().schema_type(Type::Object).description(Some(
            "Facts of an event. Missing or null fields are \"not known\": leave out what you do not know. The \
             text `unknown` (or `unk`) is a value of its own, the one a record gives when the investigation \
             could not determine a fact; the models read it as such (an unknown phase of flight is mostly \
             fatal), so send it only in that sense. Categories are matched case-insensitively; unknown ones \
             are scored as \"other\" and listed in `unknown_categories`. Fields a model does not read are \
             listed in `ignored_fields`.",
        ));
        for field in FACT_FIELDS {
            let schema = match field.rule {
                FactRule::Date { .. } => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
                FactRule::Text => ObjectBuilder::new().schema_type(Type::String).max_length(Some(MAX_TEXT)),
                FactRule::Number { min, max } => {
                    ObjectBuilder::new().schema_type(Type::Number).minimum(Some(min)).maximum(Some(max))
                }
                FactRule::Integer { min, max } => {
                    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min)).maximum(Some(max))
                }
                FactRule::Flag => ObjectBuilder::new().schema_type(Type::Boolean),
            };
            let description = match field.rule {
                FactRule::Date { first_year, last_year } => {
                    format!("{} From {first_year}-01-01 to {last_year}-12-31.", field.description)
                }
                _ => field.description.to_string(),
            };
            let nullable = utoipa::openapi::schema::OneOfBuilder::new()
                .item(schema.description(Some(description)))
                .item(ObjectBuilder::new().schema_type(Type::Null));
            facts = facts.property(field.name, nullable);
        }
        facts.additional_properties(Some(AdditionalProperties::FreeForm(false))).into()
    }
}

impl utoipa::ToSchema for FactsInput {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Facts")
    }
}

/// How many contributions a request lists per prediction: a number, or
/// `"all"` (any case) for every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Contributions(usize);

impl<'de> Deserialize<'de> for Contributions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const EXPECTED: &str = "expected a number of contributions to list (0 or more) or \"all\"";
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(u64),
            // JSON does not tell 10 from 10.0: an integral float is that integer.
            Float(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer).map_err(|_| de::Error::custom(EXPECTED))? {
            Raw::Count(n) => Ok(Contributions(usize::try_from(n).unwrap_or(usize::MAX))),
            Raw::Float(x) if x.fract() == 0.0 && x >= 0.0 => Ok(Contributions(x as usize)),
            Raw::Text(t) if t.eq_ignore_ascii_case("all") => Ok(Contributions(usize::MAX)),
            _ => Err(de::Error::custom(EXPECTED)),
        }
    }
}

impl utoipa::PartialSchema for Contributions {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::OneOfBuilder;
        let one_of = OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
            .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["all"])))
            .description(Some(
                "How many of the largest contributions to list (default 5), or `\"all\"`; the others are summed \
                 in `unlisted_contribution`.",
            ))
            .examples([Value::from("all"), Value::from(10)])
            .build();
        Schema::OneOf(one_of).into()
    }
}

impl utoipa::ToSchema for Contributions {}

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

/// The model `kind`, loaded.
fn model_of(state: &AppState, kind: ModelKind) -> Result<Arc<Model>, ApiError> {
    state.ml.get(kind).ok_or_else(|| {
        let name = kind.name();
        ApiError::Unavailable(format!(
            "the {name} model is not loaded; train it with `ntsb ml train --model {name}` (the server picks it up \
             without a restart)"
        ))
    })
}

/// Contributions listed per prediction ([`LISTED_BY_DEFAULT`] unless asked).
fn listed(asked: Option<Contributions>) -> usize {
    asked.map_or(LISTED_BY_DEFAULT, |c| c.0)
}

/// What one item asks for.
enum Subject {
    Stored(String),
    Given(Box<Facts>),
}

/// The subject of an item: exactly one of `ev_id` and `features`.
fn subject(ev_id: Option<EventId>, features: Option<FactsInput>, prefix: &str) -> Result<Subject, ApiError> {
    match (ev_id, features) {
        (Some(_), Some(_)) => {
            Err(ApiError::invalid(format!("{prefix}ev_id"), "give either ev_id or features, not both"))
        }
        (None, None) => Err(ApiError::invalid(format!("{prefix}features"), "required (or ev_id)")),
        (Some(id), None) => Ok(Subject::Stored(id.into_string())),
        (None, Some(facts)) => Ok(Subject::Given(Box::new(facts.0))),
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
    let request: PredictRequest = crate::json::parse(&body, BODY_CHECKED_BY_LAYER)?;
    let subject = subject(request.ev_id, request.features, "")?;
    let model = model_of(&state, request.model.get())?;
    let listed = listed(request.contributions);
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
    let request: BatchRequest = crate::json::parse(&body, BODY_CHECKED_BY_LAYER)?;
    if request.items.len() > MAX_BATCH {
        return Err(ApiError::invalid("items", format!("at most {MAX_BATCH} items, got {}", request.items.len())));
    }
    let mut subjects = Vec::with_capacity(request.items.len());
    for (i, item) in request.items.into_iter().enumerate() {
        let prefix = format!("items[{i}].");
        subjects.push((subject(item.ev_id, item.features, &prefix)?, prefix));
    }
    let model = model_of(&state, request.model.get())?;
    let listed = listed(request.contributions);
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
            assert_eq!(schemas[request]["additionalProperties"], false, "{request}");
        }
        assert_eq!(schemas["BatchRequest"]["properties"]["items"]["maxItems"], MAX_BATCH);
        // The facts are documented from the models' own table, field by field.
        // An optional field is documented as its schema or null.
        fn not_null(v: &serde_json::Value) -> &serde_json::Value {
            v["oneOf"].as_array().and_then(|a| a.iter().find(|s| s["type"] != "null")).unwrap_or(v)
        }
        let facts = not_null(&schemas["PredictRequest"]["properties"]["features"]);
        let documented: Vec<&str> = facts["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        let mut parsed: Vec<&str> = ntsb_ml::features::FACT_FIELDS.iter().map(|f| f.name).collect();
        parsed.sort_unstable();
        let mut documented = documented;
        documented.sort_unstable();
        assert_eq!(documented, parsed);
        assert_eq!(facts["properties"]["latitude"]["oneOf"][0]["maximum"], 90.0);
        let item = not_null(&schemas["BatchItem"]["properties"]["ev_id"]);
        let pattern = regex::Regex::new(item["pattern"].as_str().unwrap()).unwrap();
        for id in ["20080124X00101", " ERA22LA123 ", "a-b_c", "", "x y", &"9".repeat(41), "\u{85}A1\u{3000}"] {
            let accepted = serde_json::from_value::<EventId>(serde_json::json!(id)).is_ok();
            assert_eq!(pattern.is_match(id), accepted, "{id:?}");
        }
    }

    #[test]
    fn bodies_name_the_field_that_is_wrong() {
        let err = |body: &str| match crate::json::parse::<BatchRequest>(body.as_bytes(), 1 << 20).unwrap_err() {
            ApiError::InvalidParameter { parameter, reason } => (parameter, reason),
            other => panic!("{other:?}"),
        };
        let base = r#"{"model": "fatal", "items": [{"ev_id": "X1"}, ITEM]}"#;
        let with = |item: &str| base.replace("ITEM", item);
        assert_eq!(err(&with(r#"{"features": {"latitude": 95}}"#)).0, "items[1].features.latitude");
        assert!(err(&with(r#"{"features": {"latitude": 95}}"#)).1.contains("between -90 and 90"));
        assert_eq!(err(&with(r#"{"features": {"wings": 2}}"#)).0, "items[1].features.wings");
        assert_eq!(err(&with(r#"{"flag": 1}"#)).0, "items[1].flag");
        assert_eq!(err(&with(r#"{"ev_id": "no such id!"}"#)), ("items[1].ev_id".into(), "not an NTSB event id".into()));
        assert_eq!(err(r#"{"items": []}"#).0, "model");
        assert_eq!(err(r#"{"model": "deadly", "items": []}"#).0, "model");
        assert_eq!(err(r#"{"model": "risk", "items": [], "contributions": -1}"#).0, "contributions");
        let ok: BatchRequest =
            crate::json::parse(br#"{"model": "RISK", "items": [], "contributions": "All"}"#, 1 << 20).unwrap();
        assert_eq!((ok.model.get(), listed(ok.contributions)), (ModelKind::Risk, usize::MAX));
        let ok: PredictRequest =
            crate::json::parse(br#"{"model": "fatal", "ev_id": " X1 ", "contributions": 7.0}"#, 1 << 20).unwrap();
        assert_eq!(listed(ok.contributions), 7);
        assert!(matches!(subject(ok.ev_id, ok.features, ""), Ok(Subject::Stored(id)) if id == "X1"));
    }
}
