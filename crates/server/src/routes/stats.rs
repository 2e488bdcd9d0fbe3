//! `GET /api/v1/stats/*`: totals and breakdowns of the filtered events.
//!
//! Answered by the analytical engine (`ntsb-analytics`, an in-memory projection:
//! well under a millisecond, on the calling thread) once it is built, and by
//! the store (on the blocking pool) until then. Both give the same answers.

use axum::Json;
use axum::extract::State;
use ntsb_model::query::{Breakdown, BreakdownRow, EventFilter, FindingRow, OccurrenceRow, PhaseOccurrences, Summary};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::error::{ApiError, Problem};
use crate::fields::Bounded;
use crate::openapi::{BreakdownBody, FindingsBody, OccurrencesBody, SummaryBody};
use crate::params::{FilterQuery, Query, TextQuery};
use crate::routes::events::filter_of;
use crate::state::{AppState, blocking, engine_error};

/// Most rows a breakdown returns.
pub(crate) const MAX_ROWS: usize = 10_000;

/// Most rows of the findings and occurrences.
const MAX_CODE_ROWS: usize = 1000;

/// Rows of the findings and occurrences when `limit` is not given.
const DEFAULT_CODE_ROWS: usize = 50;

/// Largest `min_count` of a breakdown.
const MAX_MIN_COUNT: i64 = 1_000_000;

/// Row limit of a breakdown.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LimitQuery {
    /// Most rows (default: every row, up to the maximum).
    #[param(inline, example = 20)]
    limit: Option<Bounded<1, { MAX_ROWS as i64 }>>,
}

/// Row limit and minimum group size of a breakdown.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct MinCountQuery {
    /// Most rows (default: every row, up to the maximum).
    #[param(inline, example = 20)]
    limit: Option<Bounded<1, { MAX_ROWS as i64 }>>,
    /// Leave out groups with fewer events (default 1).
    #[param(inline, example = 100)]
    min_count: Option<Bounded<1, { MAX_MIN_COUNT }>>,
}

/// Row limit of the findings and occurrences.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CodeLimitQuery {
    /// Most rows (default 50).
    #[param(inline, example = 20)]
    limit: Option<Bounded<1, { MAX_CODE_ROWS as i64 }>>,
}

impl CodeLimitQuery {
    fn rows(&self) -> usize {
        self.limit.map_or(DEFAULT_CODE_ROWS, |l| l.get() as usize)
    }
}

/// The row options of a breakdown's query: how many rows, and the smallest group.
trait RowOptions {
    fn rows(&self) -> usize;
    fn min_count(&self) -> u64;
}

impl RowOptions for LimitQuery {
    fn rows(&self) -> usize {
        self.limit.map_or(MAX_ROWS, |l| l.get() as usize)
    }

    fn min_count(&self) -> u64 {
        1
    }
}

impl RowOptions for MinCountQuery {
    fn rows(&self) -> usize {
        self.limit.map_or(MAX_ROWS, |l| l.get() as usize)
    }

    fn min_count(&self) -> u64 {
        self.min_count.map_or(1, |m| m.get() as u64)
    }
}

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
    params(FilterQuery, TextQuery),
    responses((status = 200, description = "Totals", body = SummaryBody),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn summary(
    State(state): State<AppState>,
    Query(filter, text, _): Query<FilterQuery, TextQuery>,
) -> Result<Json<Summary>, ApiError> {
    let filter = filter_of(&state, &filter, &text).await?;
    Ok(Json(summary_of(&state, filter).await?))
}

/// What the group keys of a breakdown are named (`year`, `state`, …), the name
/// of the second key, and whether the key is a number.
fn key_names(by: Breakdown) -> (&'static str, Option<&'static str>, bool) {
    match by {
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
    }
}

/// A breakdown row with its group keys named after what they are, serialised
/// straight to JSON: the fields in the byte order of their names (the order a
/// JSON object of them has always had), without building a JSON value per row
/// (a breakdown may have 10,000 rows).
pub(crate) struct NamedRow {
    pub by: Breakdown,
    pub row: BreakdownRow,
}

/// One field of a [`NamedRow`].
enum Field<'a> {
    Int(i64),
    Uint(u64),
    Text(&'a str),
    OptText(Option<&'a str>),
    Real(f64),
    Pair([f64; 2]),
}

impl Serialize for Field<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Int(n) => s.serialize_i64(*n),
            Field::Uint(n) => s.serialize_u64(*n),
            Field::Text(t) => s.serialize_str(t),
            Field::OptText(t) => t.serialize(s),
            Field::Real(x) => x.serialize(s),
            Field::Pair(p) => p.serialize(s),
        }
    }
}

impl Serialize for NamedRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (key_name, key2_name, numeric) = key_names(self.by);
        let r = &self.row;
        let key = match r.key.parse::<i64>() {
            Ok(n) if numeric => Field::Int(n),
            _ => Field::Text(&r.key),
        };
        let mut fields: Vec<(&str, Field<'_>)> = vec![
            (key_name, key),
            ("events", Field::Uint(r.events)),
            ("fatal_events", Field::Uint(r.fatal_events)),
            ("fatalities", Field::Uint(r.fatalities)),
            ("serious_injuries", Field::Uint(r.serious_injuries)),
            ("destroyed", Field::Uint(r.destroyed)),
            ("fatal_rate", Field::Real(r.fatal_rate)),
            ("fatal_rate_ci95", Field::Pair(r.fatal_rate_ci95)),
        ];
        if let Some(name) = key2_name {
            fields.push((name, Field::OptText(r.key2.as_deref())));
        }
        fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut map = s.serialize_map(Some(fields.len()))?;
        for (name, value) in &fields {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

async fn breakdown(
    state: AppState,
    Query(filter, text, options): Query<FilterQuery, TextQuery, impl RowOptions>,
    by: Breakdown,
) -> Result<Json<Rows<NamedRow>>, ApiError> {
    let filter = filter_of(&state, &filter, &text).await?;
    let rows = breakdown_of(&state, by, filter, options.min_count(), options.rows()).await?;
    Ok(Json(Rows { items: rows.into_iter().map(|row| NamedRow { by, row }).collect() }))
}

macro_rules! breakdown_route {
    ($name:ident, $path:literal, $by:expr, $params:ty, $summary:literal, $desc:literal) => {
        #[utoipa::path(get, path = $path, tag = "statistics", summary = $summary, description = $desc,
            params(FilterQuery, TextQuery, $params),
            responses((status = 200, description = "Rows", body = BreakdownBody),
                (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
        pub(crate) async fn $name(
            State(state): State<AppState>,
            query: Query<FilterQuery, TextQuery, $params>,
        ) -> Result<Json<Rows<NamedRow>>, ApiError> {
            breakdown(state, query, $by).await
        }
    };
}

breakdown_route!(
    yearly,
    "/api/v1/stats/yearly",
    Breakdown::Year,
    LimitQuery,
    "By year",
    "Rows keyed by `year`, oldest first."
);
breakdown_route!(
    monthly,
    "/api/v1/stats/monthly",
    Breakdown::Month,
    LimitQuery,
    "By month of the year",
    "Rows keyed by `month` (1–12)."
);
breakdown_route!(
    seasonal,
    "/api/v1/stats/seasonal",
    Breakdown::Season,
    LimitQuery,
    "By season",
    "Rows keyed by `season`: winter (Dec–Feb), spring, summer, autumn."
);
breakdown_route!(
    day_of_week,
    "/api/v1/stats/day-of-week",
    Breakdown::DayOfWeek,
    LimitQuery,
    "By day of week",
    "Rows keyed by `day` (0 Sunday … 6 Saturday) with `day_name`."
);
breakdown_route!(
    decades,
    "/api/v1/stats/decades",
    Breakdown::Decade,
    LimitQuery,
    "By decade",
    "Rows keyed by `decade` (1980, 1990, …)."
);
breakdown_route!(
    states,
    "/api/v1/stats/states",
    Breakdown::State,
    LimitQuery,
    "By state",
    "Rows keyed by `state`, most events first."
);
breakdown_route!(
    makes,
    "/api/v1/stats/makes",
    Breakdown::Make,
    MinCountQuery,
    "By aircraft make",
    "Rows keyed by `make`, most events first; an event with two makes counts in both. `min_count` \
     hides makes with fewer events; the fatal rate's 95% interval shows how much a small count says."
);
breakdown_route!(
    make_models,
    "/api/v1/stats/make-models",
    Breakdown::MakeModel,
    MinCountQuery,
    "By aircraft make and model",
    "Rows keyed by `make` and `model`, most events first."
);
breakdown_route!(
    phases,
    "/api/v1/stats/phases",
    Breakdown::Phase,
    LimitQuery,
    "By phase of flight",
    "Rows keyed by `phase`."
);
breakdown_route!(
    weather,
    "/api/v1/stats/weather",
    Breakdown::Weather,
    LimitQuery,
    "By weather",
    "Rows keyed by `weather` (VMC, IMC, unknown)."
);
breakdown_route!(
    far_parts,
    "/api/v1/stats/far-parts",
    Breakdown::FarPart,
    LimitQuery,
    "By FAR part",
    "Rows keyed by `far_part` (091, 121, 135, …)."
);
breakdown_route!(
    countries,
    "/api/v1/stats/countries",
    Breakdown::Country,
    LimitQuery,
    "By country",
    "Rows keyed by `country` as the sources spell it (`USA`, `United States`, …), most events first."
);
breakdown_route!(
    categories,
    "/api/v1/stats/categories",
    Breakdown::Category,
    MinCountQuery,
    "By aircraft category",
    "Rows keyed by `category` (AIR, HELI, GLI, …) of any aircraft, most events first."
);
breakdown_route!(
    engines,
    "/api/v1/stats/engines",
    Breakdown::Engines,
    MinCountQuery,
    "By number of engines",
    "Rows keyed by `engines` (the number of engines of any aircraft), most events first."
);
breakdown_route!(
    amateur_built,
    "/api/v1/stats/amateur-built",
    Breakdown::AmateurBuilt,
    MinCountQuery,
    "Amateur-built or not",
    "Rows keyed by `amateur_built` (`yes`, `no`): whether any aircraft of the event was amateur-built."
);

#[utoipa::path(get, path = "/api/v1/stats/findings", tag = "statistics", summary = "Top findings",
    description = "Most cited findings with the share of citations as a cause.",
    params(FilterQuery, TextQuery, CodeLimitQuery),
    responses((status = 200, description = "Rows", body = FindingsBody),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn findings(
    State(state): State<AppState>,
    Query(filter, text, rows): Query<FilterQuery, TextQuery, CodeLimitQuery>,
) -> Result<Json<Rows<FindingRow>>, ApiError> {
    let filter = filter_of(&state, &filter, &text).await?;
    let items = findings_of(&state, filter, rows.rows()).await?;
    Ok(Json(Rows { items }))
}

#[utoipa::path(get, path = "/api/v1/stats/occurrences", tag = "statistics", summary = "Top occurrences",
    description = "Most frequent occurrences, with how often each was the defining event.",
    params(FilterQuery, TextQuery, CodeLimitQuery),
    responses((status = 200, description = "Rows", body = OccurrencesBody),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn occurrences(
    State(state): State<AppState>,
    Query(filter, text, rows): Query<FilterQuery, TextQuery, CodeLimitQuery>,
) -> Result<Json<Rows<OccurrenceRow>>, ApiError> {
    let filter = filter_of(&state, &filter, &text).await?;
    let items = occurrences_of(&state, filter, rows.rows()).await?;
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
        assert_eq!(maximum("/api/v1/stats/makes", "year"), i64::from(crate::params::values::last_year()));
    }
}

#[cfg(test)]
mod named_rows {
    use super::*;
    use serde_json::{Map, Value};

    /// How rows were named before [`NamedRow`]: a JSON object per row.
    fn as_object(by: Breakdown, row: &BreakdownRow) -> Value {
        let (key_name, key2_name, numeric) = key_names(by);
        let key = match row.key.parse::<i64>() {
            Ok(n) if numeric => Value::from(n),
            _ => Value::from(row.key.clone()),
        };
        let mut out = Map::new();
        out.insert(key_name.to_string(), key);
        if let Some(name) = key2_name {
            out.insert(name.to_string(), row.key2.clone().map_or(Value::Null, Value::from));
        }
        if let Ok(Value::Object(rest)) = serde_json::to_value(row) {
            for (k, v) in rest {
                if k != "key" && k != "key2" {
                    out.insert(k, v);
                }
            }
        }
        Value::Object(out)
    }

    #[test]
    fn named_rows_serialise_byte_for_byte_as_json_objects_did() {
        let rows = [
            BreakdownRow::new("2008".into(), None, 10, 3, 7, 2, 1),
            BreakdownRow::new("CESSNA".into(), Some("172".into()), 5, 0, 0, 0, 0),
            BreakdownRow::new("unknown".into(), None, 1, 1, 2, 0, 1),
            BreakdownRow::new("3".into(), Some("Wednesday".into()), 0, 0, 0, 0, 0),
            BreakdownRow { fatal_rate: f64::NAN, ..BreakdownRow::new("x".into(), None, 1, 0, 0, 0, 0) },
        ];
        for &by in Breakdown::ALL {
            for row in &rows {
                let old = serde_json::to_string(&as_object(by, row)).unwrap();
                let new = serde_json::to_string(&NamedRow { by, row: row.clone() }).unwrap();
                assert_eq!(new, old, "{by:?}");
            }
        }
    }
}
