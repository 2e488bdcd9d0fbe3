//! `GET /api/v1/stats/*`: totals and breakdowns of the filtered events.
//!
//! Answered by the analytical engine (`ntsb-analytics`, an in-memory projection:
//! well under a millisecond, on the calling thread) once it is built, and by
//! the store (on the blocking pool) until then. Both give the same answers.

use axum::Json;
use axum::extract::{RawQuery, State};
use ntsb_model::query::{Breakdown, BreakdownRow, EventFilter, FindingRow, OccurrenceRow, PhaseOccurrences, Summary};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, Problem};
use crate::openapi::{
    BreakdownBody, CodeLimitParams, FilterParams, FindingsBody, LimitParams, MinCountParams, OccurrencesBody,
    SummaryBody,
};
use crate::params::{FILTER_PARAMS, Params};
use crate::routes::events::filter_of;
use crate::state::{AppState, blocking, engine_error};

/// Most rows a breakdown returns.
pub(crate) const MAX_ROWS: usize = 10_000;

/// Most rows of the findings and occurrences.
const MAX_CODE_ROWS: usize = 1000;

/// Largest `min_count` of a breakdown.
const MAX_MIN_COUNT: i64 = 1_000_000;

// The statistics themselves, as the routes below and the dashboard's pages ask
// for them: one path from a filter to an answer, so a page and the JSON of the
// same filter can never disagree.

/// Totals over `filter` (what `/api/v1/stats/summary` answers).
pub(crate) async fn summary_of(state: &AppState, filter: EventFilter) -> Result<Summary, ApiError> {
    if let Some(answer) = state.analytics.as_ref().and_then(|a| a.summary(&filter)) {
        return answer.map_err(engine_error);
    }
    let state = state.clone();
    blocking(move || Ok(state.queries.summary(&filter)?)).await
}

/// Rows of the breakdown `by` (what `/api/v1/stats/{by}` answers, before its keys are named).
pub(crate) async fn breakdown_of(
    state: &AppState,
    by: Breakdown,
    filter: EventFilter,
    min_count: u64,
    limit: usize,
) -> Result<Vec<BreakdownRow>, ApiError> {
    // The engine answers `None` while it is building and for breakdowns it holds
    // no column for: the store answers those.
    if let Some(answer) = state.analytics.as_ref().and_then(|a| a.breakdown(by, &filter, min_count, limit)) {
        return answer.map_err(engine_error);
    }
    let state = state.clone();
    blocking(move || Ok(state.queries.breakdown(by, &filter, min_count, limit)?)).await
}

/// Most cited findings (what `/api/v1/stats/findings` answers).
pub(crate) async fn findings_of(
    state: &AppState,
    filter: EventFilter,
    limit: usize,
) -> Result<Vec<FindingRow>, ApiError> {
    if let Some(answer) = state.analytics.as_ref().and_then(|a| a.top_findings(&filter, limit)) {
        return answer.map_err(engine_error);
    }
    let state = state.clone();
    blocking(move || Ok(state.queries.top_findings(&filter, limit)?)).await
}

/// Most frequent occurrences (what `/api/v1/stats/occurrences` answers).
pub(crate) async fn occurrences_of(
    state: &AppState,
    filter: EventFilter,
    limit: usize,
) -> Result<Vec<OccurrenceRow>, ApiError> {
    if let Some(answer) = state.analytics.as_ref().and_then(|a| a.top_occurrences(&filter, limit)) {
        return answer.map_err(engine_error);
    }
    let state = state.clone();
    blocking(move || Ok(state.queries.top_occurrences(&filter, limit)?)).await
}

/// The `occurrences` most frequent occurrences counted per phase of flight (the
/// dashboard's heat map). The analytical engine holds no occurrence phases, so
/// the store answers (one statement pair in `ntsb_store`'s shared SQL layer).
pub(crate) async fn phase_occurrences_of(
    state: &AppState,
    filter: EventFilter,
    occurrences: usize,
) -> Result<PhaseOccurrences, ApiError> {
    let state = state.clone();
    blocking(move || Ok(state.queries.phase_occurrences(&filter, occurrences)?)).await
}

/// Rows of a list-shaped statistic.
#[derive(Debug, Serialize)]
pub(crate) struct Rows<T> {
    pub items: Vec<T>,
}

#[utoipa::path(get, path = "/api/v1/stats/summary", tag = "statistics", summary = "Totals",
    description = "Events, accidents, incidents, fatal events, people injured by level, aircraft, \
        destroyed aircraft, date range and the fatal rate with its 95% Wilson interval.",
    params(FilterParams),
    responses((status = 200, description = "Totals", body = SummaryBody),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn summary(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<Summary>, ApiError> {
    let p = Params::parse(raw.as_deref(), &[FILTER_PARAMS])?;
    let filter = filter_of(&state, &p).await?;
    Ok(Json(summary_of(&state, filter).await?))
}

/// Names the group keys of a breakdown row after what they are (`year`, `state`, …).
pub(crate) fn named_row(by: Breakdown, row: BreakdownRow) -> Value {
    let (key_name, key2_name, numeric) = match by {
        Breakdown::Year => ("year", None, true),
        Breakdown::Month => ("month", None, true),
        Breakdown::Season => ("season", None, false),
        Breakdown::DayOfWeek => ("day", Some("day_name"), true),
        Breakdown::Decade => ("decade", None, true),
        Breakdown::State => ("state", None, false),
        Breakdown::Make => ("make", None, false),
        Breakdown::MakeModel => ("make", Some("model"), false),
        Breakdown::Phase => ("phase", None, false),
        Breakdown::Weather => ("weather", None, false),
        Breakdown::FarPart => ("far_part", None, false),
        Breakdown::Country => ("country", None, false),
        Breakdown::Category => ("category", None, false),
        Breakdown::Engines => ("engines", None, true),
        Breakdown::AmateurBuilt => ("amateur_built", None, false),
    };
    let key = match row.key.parse::<i64>() {
        Ok(n) if numeric => Value::from(n),
        _ => Value::from(row.key.clone()),
    };
    let mut out = Map::new();
    out.insert(key_name.to_string(), key);
    if let Some(name) = key2_name {
        out.insert(name.to_string(), row.key2.clone().map_or(Value::Null, Value::from));
    }
    if let Ok(Value::Object(rest)) = serde_json::to_value(&row) {
        for (k, v) in rest {
            if k != "key" && k != "key2" {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

async fn breakdown(
    state: AppState,
    raw: Option<String>,
    by: Breakdown,
    min_count: bool,
) -> Result<Json<Rows<Value>>, ApiError> {
    let extra: &[&str] = if min_count { &["limit", "min_count"] } else { &["limit"] };
    let p = Params::parse(raw.as_deref(), &[FILTER_PARAMS, extra])?;
    let limit = p.limit(MAX_ROWS, MAX_ROWS)?;
    let min = if min_count { p.int("min_count", 1..=MAX_MIN_COUNT)?.unwrap_or(1) as u64 } else { 1 };
    let filter = filter_of(&state, &p).await?;
    let rows = breakdown_of(&state, by, filter, min, limit).await?;
    Ok(Json(Rows { items: rows.into_iter().map(|r| named_row(by, r)).collect() }))
}

macro_rules! breakdown_route {
    ($name:ident, $path:literal, $by:expr, $min:literal, $params:ty, $summary:literal, $desc:literal) => {
        #[utoipa::path(get, path = $path, tag = "statistics", summary = $summary, description = $desc,
            params(FilterParams, $params),
            responses((status = 200, description = "Rows", body = BreakdownBody),
                (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
        pub(crate) async fn $name(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<Rows<Value>>, ApiError> {
            breakdown(state, raw, $by, $min).await
        }
    };
}

breakdown_route!(
    yearly,
    "/api/v1/stats/yearly",
    Breakdown::Year,
    false,
    LimitParams,
    "By year",
    "Rows keyed by `year`, oldest first."
);
breakdown_route!(
    monthly,
    "/api/v1/stats/monthly",
    Breakdown::Month,
    false,
    LimitParams,
    "By month of the year",
    "Rows keyed by `month` (1–12)."
);
breakdown_route!(
    seasonal,
    "/api/v1/stats/seasonal",
    Breakdown::Season,
    false,
    LimitParams,
    "By season",
    "Rows keyed by `season`: winter (Dec–Feb), spring, summer, autumn."
);
breakdown_route!(
    day_of_week,
    "/api/v1/stats/day-of-week",
    Breakdown::DayOfWeek,
    false,
    LimitParams,
    "By day of week",
    "Rows keyed by `day` (0 Sunday … 6 Saturday) with `day_name`."
);
breakdown_route!(
    decades,
    "/api/v1/stats/decades",
    Breakdown::Decade,
    false,
    LimitParams,
    "By decade",
    "Rows keyed by `decade` (1980, 1990, …)."
);
breakdown_route!(
    states,
    "/api/v1/stats/states",
    Breakdown::State,
    false,
    LimitParams,
    "By state",
    "Rows keyed by `state`, most events first."
);
breakdown_route!(
    makes,
    "/api/v1/stats/makes",
    Breakdown::Make,
    true,
    MinCountParams,
    "By aircraft make",
    "Rows keyed by `make`, most events first; an event with two makes counts in both. `min_count` \
     hides makes with fewer events; the fatal rate's 95% interval shows how much a small count says."
);
breakdown_route!(
    make_models,
    "/api/v1/stats/make-models",
    Breakdown::MakeModel,
    true,
    MinCountParams,
    "By aircraft make and model",
    "Rows keyed by `make` and `model`, most events first."
);
breakdown_route!(
    phases,
    "/api/v1/stats/phases",
    Breakdown::Phase,
    false,
    LimitParams,
    "By phase of flight",
    "Rows keyed by `phase`."
);
breakdown_route!(
    weather,
    "/api/v1/stats/weather",
    Breakdown::Weather,
    false,
    LimitParams,
    "By weather",
    "Rows keyed by `weather` (VMC, IMC, unknown)."
);
breakdown_route!(
    far_parts,
    "/api/v1/stats/far-parts",
    Breakdown::FarPart,
    false,
    LimitParams,
    "By FAR part",
    "Rows keyed by `far_part` (091, 121, 135, …)."
);
breakdown_route!(
    countries,
    "/api/v1/stats/countries",
    Breakdown::Country,
    false,
    LimitParams,
    "By country",
    "Rows keyed by `country` as the sources spell it (`USA`, `United States`, …), most events first."
);
breakdown_route!(
    categories,
    "/api/v1/stats/categories",
    Breakdown::Category,
    true,
    MinCountParams,
    "By aircraft category",
    "Rows keyed by `category` (AIR, HELI, GLI, …) of any aircraft, most events first."
);
breakdown_route!(
    engines,
    "/api/v1/stats/engines",
    Breakdown::Engines,
    true,
    MinCountParams,
    "By number of engines",
    "Rows keyed by `engines` (the number of engines of any aircraft), most events first."
);
breakdown_route!(
    amateur_built,
    "/api/v1/stats/amateur-built",
    Breakdown::AmateurBuilt,
    true,
    MinCountParams,
    "Amateur-built or not",
    "Rows keyed by `amateur_built` (`yes`, `no`): whether any aircraft of the event was amateur-built."
);

#[utoipa::path(get, path = "/api/v1/stats/findings", tag = "statistics", summary = "Top findings",
    description = "Most cited findings with the share of citations as a cause.",
    params(FilterParams, CodeLimitParams),
    responses((status = 200, description = "Rows", body = FindingsBody),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn findings(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Rows<FindingRow>>, ApiError> {
    let p = Params::parse(raw.as_deref(), &[FILTER_PARAMS, &["limit"]])?;
    let limit = p.limit(50, MAX_CODE_ROWS)?;
    let filter = filter_of(&state, &p).await?;
    let items = findings_of(&state, filter, limit).await?;
    Ok(Json(Rows { items }))
}

#[utoipa::path(get, path = "/api/v1/stats/occurrences", tag = "statistics", summary = "Top occurrences",
    description = "Most frequent occurrences, with how often each was the defining event.",
    params(FilterParams, CodeLimitParams),
    responses((status = 200, description = "Rows", body = OccurrencesBody),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn occurrences(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Rows<OccurrenceRow>>, ApiError> {
    let p = Params::parse(raw.as_deref(), &[FILTER_PARAMS, &["limit"]])?;
    let limit = p.limit(50, MAX_CODE_ROWS)?;
    let filter = filter_of(&state, &p).await?;
    let items = occurrences_of(&state, filter, limit).await?;
    Ok(Json(Rows { items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The OpenAPI document states the limits this module enforces.
    #[test]
    fn documented_limits_are_the_enforced_ones() {
        let doc = serde_json::to_value(crate::openapi::openapi()).unwrap();
        let maximum = |path: &str, name: &str| {
            let parameters = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
            let parameter = parameters.iter().find(|p| p["name"] == name).unwrap();
            parameter["schema"]["maximum"].as_i64().unwrap()
        };
        assert_eq!(maximum("/api/v1/stats/findings", "limit"), MAX_CODE_ROWS as i64);
        assert_eq!(maximum("/api/v1/stats/occurrences", "limit"), MAX_CODE_ROWS as i64);
        assert_eq!(maximum("/api/v1/stats/states", "limit"), MAX_ROWS as i64);
        assert_eq!(maximum("/api/v1/stats/makes", "min_count"), MAX_MIN_COUNT);
        assert_eq!(maximum("/api/v1/stats/makes", "year"), *crate::params::year_range().end());
    }
}
