//! `/predict` (signed-in visitors): a form for the `risk` and `fatal` models
//! and its answer: the probability and the explanation, the contributions as
//! a bar chart and a table. The form is a GET (scoring changes nothing), so a
//! prediction is a URL like every other view. Inputs are validated by the
//! models' own parser (`Facts::from_json`, as the JSON API does), so a bad
//! value is refused naming its field.

use axum::extract::{RawQuery, State};
use maud::{Markup, html};
use ntsb_ml::{Facts, ModelKind};
use serde_json::{Map, Value};

use super::charts::fmt;
use super::layout::{Page, shell};
use super::session::Visitor;
use super::text::{Text, pct};
use crate::error::ApiError;
use crate::state::AppState;

/// Contributions drawn and listed.
const SHOWN: usize = 12;

/// The form's fields: (name, label, kind). `kind` is `text`, `number`,
/// `date` or a list of choices. Names are the API's fact names, except the
/// aircraft model (`aircraft_model`, as `model` names the ML model).
const FIELDS: &[(&str, &str, &str)] = &[
    ("event_date", "Event date", "date"),
    ("state", "US state (2 letters)", "text"),
    ("country", "Country", "text"),
    ("latitude", "Latitude", "number"),
    ("longitude", "Longitude", "number"),
    ("weather", "Weather (VMC, IMC)", "text"),
    ("light_condition", "Light condition", "text"),
    ("phase", "Phase of flight (takeoff, cruise, landing…)", "text"),
    ("make", "Aircraft make", "text"),
    ("aircraft_model", "Aircraft model", "text"),
    ("category", "Aircraft category (AIR, HELI…)", "text"),
    ("amateur_built", "Amateur-built (true, false)", "text"),
    ("num_engines", "Number of engines", "number"),
    ("engine_type", "Engine type", "text"),
    ("far_part", "FAR part (091, 135…)", "text"),
    ("purpose", "Purpose of flight", "text"),
    ("pilot_age", "Pilot age", "number"),
    ("pilot_total_hours", "Pilot total hours", "number"),
    ("damage", "Aircraft damage (fatal model only)", "text"),
    ("aircraft_count", "Aircraft involved (fatal model only)", "number"),
];

/// Facts fields read as integers (the others of kind `number` are decimals).
const INTEGERS: [&str; 3] = ["num_engines", "pilot_age", "aircraft_count"];

pub(crate) async fn page(
    State(state): State<AppState>,
    _visitor: Visitor,
    RawQuery(raw): RawQuery,
) -> Result<Page, ApiError> {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect();
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str()).trim().to_string();
    let model_name = get("model");
    let asked = !model_name.is_empty();
    let answer = if asked { Some(predict(&state, &model_name, &get)) } else { None };
    let loaded: Vec<&str> = [ModelKind::Risk, ModelKind::Fatal]
        .into_iter()
        .filter(|k| state.ml.get(*k).is_some())
        .map(|k| k.name())
        .collect();
    let error_field = match &answer {
        Some(Err(ApiError::InvalidParameter { parameter, .. })) => Some(parameter.clone()),
        _ => None,
    };
    Ok(Page::Html(shell(
        "Predict",
        "/predict",
        html! {
            h1 { "Predict" }
            p { "Score an event with a trained model: " strong { "risk" } " (how likely an event of this kind is fatal, from "
                "what is known before the flight) or " strong { "fatal" } " (the same, also reading the damage and the "
                "aircraft involved). Leave out what you do not know." }
            @if loaded.is_empty() {
                p.error id="no-model" role="status" { "No model is loaded on this server: an operator trains them with "
                    code { "ntsb ml train" } " and the server picks them up without a restart." }
            }
            // The fields show the URL's facts, also on back/forward (no restored typing).
            form id="predict" method="get" action="/predict" autocomplete="off" {
                fieldset {
                    legend { "Event facts" }
                    div.field {
                        label for="predict-model" { "Model" }
                        select id="predict-model" name="model" {
                            @for m in ["risk", "fatal"] {
                                @if model_name == m { option value=(m) selected { (m) } } @else { option value=(m) { (m) } }
                            }
                        }
                    }
                    div.grid {
                        @for (name, label, kind) in FIELDS {
                            @let id = format!("predict-{}", name.replace('_', "-"));
                            @let bad = error_field.as_deref() == Some(*name);
                            div.field {
                                label for=(id) { (label) }
                                input id=(id) name=(name) type=(kind) value=(get(name)) step=[(*kind == "number").then_some("any")]
                                    aria-invalid=[bad.then_some("true")];
                            }
                        }
                    }
                    div.actions { button type="submit" id="predict-submit" { "Predict" } }
                }
            }
            @match &answer {
                None => {}
                Some(Ok(a)) => (a),
                Some(Err(e)) => {
                    @let p = e.problem();
                    p.error role="alert" id="predict-error" {
                        @if let Some(field) = &p.parameter { "The field " code { (field) } ": " }
                        (p.detail)
                    }
                }
            }
        },
    )))
}

/// The facts as the JSON API takes them, from the form's text.
fn facts_json(get: &dyn Fn(&str) -> String) -> Result<Value, ApiError> {
    let mut map = Map::new();
    for (name, _, kind) in FIELDS {
        let raw = get(name);
        if raw.is_empty() {
            continue;
        }
        let key = if *name == "aircraft_model" { "model" } else { *name };
        let value = if *kind == "number" {
            let n: f64 = raw.parse().map_err(|_| ApiError::invalid(*name, format!("must be a number, got {raw:?}")))?;
            if INTEGERS.contains(name) {
                if n.fract() != 0.0 {
                    return Err(ApiError::invalid(*name, "must be a whole number"));
                }
                Value::from(n as i64)
            } else {
                Value::from(n)
            }
        } else if *name == "amateur_built" {
            match raw.to_ascii_lowercase().as_str() {
                "true" | "yes" => Value::Bool(true),
                "false" | "no" => Value::Bool(false),
                _ => return Err(ApiError::invalid(*name, "must be true or false")),
            }
        } else {
            Value::String(raw)
        };
        map.insert(key.to_string(), value);
    }
    Ok(Value::Object(map))
}

fn predict(state: &AppState, model_name: &str, get: &dyn Fn(&str) -> String) -> Result<Markup, ApiError> {
    let kind = match ModelKind::parse(model_name) {
        Some(k @ (ModelKind::Risk | ModelKind::Fatal)) => k,
        _ => return Err(ApiError::invalid("model", "choose risk or fatal")),
    };
    let Some(model) = state.ml.get(kind) else {
        return Err(ApiError::Unavailable(format!(
            "the {model_name} model is not loaded on this server; an operator trains it with `ntsb ml train --model {model_name}`"
        )));
    };
    let facts = Facts::from_json(&facts_json(get)?, "features").map_err(|e| match e {
        ntsb_ml::Error::InvalidInput { field, reason } => {
            let field = field.trim_start_matches("features.").to_string();
            let field = if field == "model" { "aircraft_model".to_string() } else { field };
            ApiError::InvalidParameter { parameter: field, reason }
        }
        other => ApiError::internal(format!("ml: {other}")),
    })?;
    Ok(answer(&model, &facts, &format!("Answer of the {model_name} model")))
}

/// A model's answer for `facts`: the probability, the explanation in words and
/// the largest contributions as a bar chart and a table (the `/predict` answer
/// and the event page's score).
pub(crate) fn answer(model: &ntsb_ml::Model, facts: &Facts, heading: &str) -> Markup {
    let mut p = model.predict_top(facts, SHOWN);
    let explanation = model.explain(&p, 5);
    p.keep_listed(SHOWN);
    let probability = if model.kind.is_binary() { p.probabilities[1] } else { p.probabilities[p.class] };
    let classes = model.kind.classes();
    let rows: Vec<(String, String, f64)> =
        p.contributions.iter().map(|c| (c.feature.name().to_string(), c.value.to_string(), c.contribution)).collect();
    html! {
        section aria-labelledby="answer-title" id="answer" {
            h2 id="answer-title" { (heading) }
            p {
                "Probability of a fatal outcome: "
                data id="probability" value=(format!("{probability:.6}")) { strong { (pct(probability)) } }
                " (predicted class " code id="predicted-class" { (classes[p.class]) } ", model " (model.version()) ")."
            }
            @if !explanation.is_empty() {
                h3 { "Why" }
                ul id="explanation" { @for line in &explanation { li { (line) } } }
            }
            h3 { "Contributions" }
            (contribution_chart(&rows))
            div.table-wrap {
                table id="table-contributions" {
                    caption { "The largest contributions to the score (log-odds; positive raises the probability)" }
                    thead { tr { th scope="col" { "feature" } th scope="col" { "value" } th scope="col" { "contribution" } } }
                    tbody {
                        @for (feature, value, c) in &rows {
                            tr { td { (feature) } td { (Text(value)) } td.num { (format!("{c:+.4}")) } }
                        }
                    }
                    tfoot {
                        tr { td { "base score" } td {} td.num { (format!("{:+.4}", p.bias)) } }
                        tr { td { "other features" } td {} td.num { (format!("{:+.4}", p.unlisted)) } }
                        tr { td { "raw score" } td {} td.num { (format!("{:+.4}", p.raw_score)) } }
                    }
                }
            }
        }
    }
}

/// Contributions as horizontal bars around a zero line: red raises the
/// probability, blue lowers it. Colours are presentation attributes (the CSP
/// forbids inline styles).
fn contribution_chart(rows: &[(String, String, f64)]) -> Markup {
    const W: f64 = 640.0;
    const LABEL: f64 = 220.0;
    const ROW: f64 = 22.0;
    let max = rows.iter().map(|r| r.2.abs()).fold(0.0_f64, f64::max).max(1e-9);
    let half = (W - LABEL - 20.0) / 2.0;
    let zero = LABEL + half;
    let h = ROW * rows.len() as f64 + 8.0;
    html! {
        svg.bars id="contributions-chart" viewBox=(format!("0 0 {W} {h}")) role="img" aria-labelledby="contributions-chart-title" preserveAspectRatio="xMinYMin meet" {
            title id="contributions-chart-title" { "Contributions to the score, largest first" }
            line x1=(fmt(zero)) x2=(fmt(zero)) y1="0" y2=(fmt(h)) stroke="#667085" {}
            @for (i, (feature, value, c)) in rows.iter().enumerate() {
                @let y = 4.0 + ROW * i as f64;
                @let len = (c.abs() / max * half).max(1.0);
                @let x = if *c >= 0.0 { zero } else { zero - len };
                g {
                    title { (feature) " = " (Text(value)) ": " (format!("{c:+.4}")) }
                    text x=(fmt(LABEL - 6.0)) y=(fmt(y + 15.0)) text-anchor="end" fill="#1d2939" { (Text(&super::charts::shorten(&format!("{feature} = {value}"), 32))) }
                    rect x=(fmt(x)) y=(fmt(y + 3.0)) width=(fmt(len)) height="15" fill=(if *c >= 0.0 { "#b42318" } else { "#1f5fa8" }) {}
                }
            }
        }
    }
}
