//! Query strings, parsed into types that both check and document them.
//!
//! Each endpoint takes a [`Query`] of one to three parts, each a type that
//! derives `Deserialize` and `IntoParams` ([`FilterQuery`], [`TextQuery`], the
//! endpoint's own paging or settings): the parameters an endpoint accepts are
//! exactly the ones its parts document, and each value's rule lives in its
//! type ([`values`]). Anything else is a 400 that names the parameter: an
//! unknown one (a typo such as `?stat=CA` must not silently return every
//! state), one given twice, one too long, or a value its type refuses.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;
use utoipa::openapi::path::ParameterIn;

use crate::error::ApiError;

pub(crate) mod filter;
pub(crate) mod values;

pub(crate) use filter::{FilterQuery, TextQuery};

/// Longest value accepted for any parameter, in characters.
pub const MAX_VALUE_CHARS: usize = 2_000;

/// Most events a `q` narrows a filter to before structured filters apply
/// (the best matches by relevance).
pub const MAX_TEXT_MATCHES: usize = ntsb_search::MAX_IDS;

/// The filter parameter names every event-based endpoint accepts, as documented
/// by [`FilterQuery`] and [`TextQuery`].
pub fn filter_parameter_names() -> Vec<&'static str> {
    let mut names = names_of::<FilterQuery>().to_vec();
    names.extend_from_slice(names_of::<TextQuery>());
    names
}

/// The store filter of a query string of structured event filters (no `q`),
/// read as every endpoint reads it; `None` when the query is not valid.
pub fn event_filter_of(raw: &str) -> Option<ntsb_model::query::EventFilter> {
    Query::<FilterQuery>::parse(Some(raw)).ok()?.0.to_filter().ok()
}

/// One part of a query string: a type that parses its parameters (with
/// `deny_unknown_fields`) and documents them.
pub(crate) trait QueryPart: DeserializeOwned + IntoParams + 'static {}

impl<T: DeserializeOwned + IntoParams + 'static> QueryPart for T {}

/// The part of an endpoint that takes nothing beyond its other parts.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct NoParams {}

/// A query string parsed into up to three parts. Each parameter goes to the
/// part that documents it; one that no part documents is refused, naming
/// every parameter the endpoint accepts.
#[derive(Debug, Clone)]
pub(crate) struct Query<A, B = NoParams, C = NoParams>(pub A, pub B, pub C);

impl<A: QueryPart, B: QueryPart, C: QueryPart> Query<A, B, C> {
    /// Parses a raw (percent-encoded) query string.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let parts = [names_of::<A>(), names_of::<B>(), names_of::<C>()];
        let pairs = checked_pairs(raw, &parts)?;
        let mut split: [Vec<(&str, &str)>; 3] = Default::default();
        for (key, value) in &pairs {
            let part = parts.iter().position(|names| names.contains(&key.as_str())).unwrap_or(0);
            split[part].push((key, value));
        }
        let [a, b, c] = split;
        Ok(Query(part_of(&a)?, part_of(&b)?, part_of(&c)?))
    }
}

impl<A: QueryPart, B: QueryPart, C: QueryPart, S: Send + Sync> FromRequestParts<S> for Query<A, B, C> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::parse(parts.uri.query())
    }
}

/// The decoded pairs of `raw`, each named by one of `accepted`, none given
/// twice, none longer than [`MAX_VALUE_CHARS`].
pub(crate) fn checked_pairs(raw: Option<&str>, accepted: &[&[&str]]) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if !accepted.iter().any(|names| names.contains(&key.as_ref())) {
            let mut names: Vec<&str> = accepted.iter().flat_map(|s| s.iter().copied()).collect();
            names.sort_unstable();
            let shown: String = key.chars().take(40).collect();
            let reason = if names.is_empty() {
                format!("unknown parameter {shown:?}; this endpoint takes no parameters")
            } else {
                format!("unknown parameter {shown:?}; accepted: {}", names.join(", "))
            };
            return Err(ApiError::invalid(shown, reason));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(ApiError::invalid(key, format!("longer than {MAX_VALUE_CHARS} characters")));
        }
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(ApiError::invalid(key, "given more than once"));
        }
        pairs.push((key.into_owned(), value.into_owned()));
    }
    Ok(pairs)
}

/// Parses `pairs` into `T`; a value its type refuses is a 400 naming the
/// parameter, with the type's reason.
pub(crate) fn part_of<T: DeserializeOwned>(pairs: &[(&str, &str)]) -> Result<T, ApiError> {
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    encoded.extend_pairs(pairs);
    let encoded = encoded.finish();
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let (parameter, reason) = crate::json::field_error("", &e.path().to_string(), &e.inner().to_string());
        ApiError::invalid(parameter, reason.replace("unknown field", "unknown parameter"))
    })
}

/// The parameter names `T` documents, computed once per type.
pub(crate) fn names_of<T: IntoParams + 'static>() -> &'static [&'static str] {
    static NAMES: LazyLock<RwLock<HashMap<TypeId, &'static [&'static str]>>> = LazyLock::new(Default::default);
    let id = TypeId::of::<T>();
    if let Some(names) = NAMES.read().unwrap_or_else(|e| e.into_inner()).get(&id) {
        return names;
    }
    let names: Vec<&'static str> =
        T::into_params(|| Some(ParameterIn::Query)).into_iter().map(|p| &*Box::leak(p.name.into_boxed_str())).collect();
    let names: &'static [&'static str] = Box::leak(names.into_boxed_slice());
    // Another thread may have raced us here; either leak is a few bytes, once per type.
    NAMES.write().unwrap_or_else(|e| e.into_inner()).entry(id).or_insert(names)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use ntsb_model::vocab::InjuryLevel;

    use super::values::{BBOX_PATTERN, FAR_PART_PATTERN, STATE_PATTERN, TEXT_PATTERN};
    use super::*;
    use crate::fields::Bounded;

    /// A query of the filters, the text filter and a page size.
    #[derive(Debug, Deserialize, IntoParams)]
    #[serde(deny_unknown_fields)]
    struct Limit {
        limit: Option<Bounded<1, 1000>>,
    }

    type Filters = Query<FilterQuery, TextQuery, Limit>;

    fn p(q: &str) -> Result<Filters, ApiError> {
        Filters::parse(Some(q))
    }

    fn filter(q: &str) -> Result<ntsb_model::query::EventFilter, ApiError> {
        p(q)?.0.to_filter()
    }

    fn err(r: Result<impl std::fmt::Debug, ApiError>) -> (String, String) {
        match r.unwrap_err() {
            ApiError::InvalidParameter { parameter, reason } => (parameter, reason),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn documented_patterns_agree_with_the_checks() {
        let state = regex::Regex::new(STATE_PATTERN).unwrap();
        let far = regex::Regex::new(FAR_PART_PATTERN).unwrap();
        let text = regex::Regex::new(TEXT_PATTERN).unwrap();
        for raw in [
            "AK",
            "ak",
            " CA ",
            "A",
            "ABC",
            "A1",
            "",
            "  ",
            "Ä",
            "91",
            "091",
            "NUSC",
            "123456789",
            "9 1",
            "\u{2003}",
            "\u{85}",
            "\u{feff}",
            "\u{85}AK\u{3000}",
            "\u{feff}AK",
        ] {
            let encoded = |name: &str| form_urlencoded::Serializer::new(String::new()).append_pair(name, raw).finish();
            assert_eq!(text.is_match(raw), p(&encoded("make")).is_ok(), "text {raw:?}");
            assert_eq!(state.is_match(raw), p(&encoded("state")).is_ok(), "state {raw:?}");
            assert_eq!(far.is_match(raw), p(&encoded("far_part")).is_ok(), "far_part {raw:?}");
        }
    }

    #[test]
    fn the_documented_bbox_pattern_accepts_what_the_parser_accepts() {
        let pattern = regex::Regex::new(BBOX_PATTERN).unwrap();
        for raw in [
            "-125,24,-66,50",
            " -180 , -90 , 180 , 90 ",
            "0,0,0.5,0.5",
            "1,2,3",
            "181,0,182,1",
            "-10,-91,10,0",
            "a,b,c,d",
            "-125,24,-66,50,1",
            "-1e1,0,1,1",
            "180.0,90.0,180.00,90.0",
        ] {
            let accepted = p(&format!("bbox={}", raw.replace(' ', "%20"))).is_ok();
            // The parser also reads exponents (`-1e1`), which the document leaves unsaid:
            // what the pattern admits is accepted, and for plain decimals the two agree.
            if raw.contains('e') {
                assert!(!pattern.is_match(raw) || accepted, "{raw:?}");
            } else {
                assert_eq!(pattern.is_match(raw), accepted, "{raw:?}");
            }
        }
    }

    #[test]
    fn the_accepted_parameters_are_the_documented_ones() {
        assert_eq!(
            filter_parameter_names(),
            [
                "from",
                "to",
                "year",
                "state",
                "country",
                "highest_injury",
                "damage",
                "make",
                "model",
                "category",
                "far_part",
                "phase",
                "weather",
                "event_type",
                "has_narrative",
                "bbox",
                "q"
            ]
        );
        let (name, reason) = err(p("stat=CA"));
        assert_eq!(name, "stat");
        assert!(reason.contains("accepted: bbox, category,") && reason.contains(", limit,"), "{reason}");
        let (name, reason) = err(Query::<NoParams>::parse(Some("x=1")));
        assert_eq!(
            (name.as_str(), reason.as_str()),
            ("x", "unknown parameter \"x\"; this endpoint takes no parameters")
        );
        assert!(Query::<NoParams>::parse(None).is_ok());
    }

    #[test]
    fn repeated_long_and_blank_values_are_refused_by_name() {
        assert_eq!(err(p("state=CA&state=TX")), ("state".into(), "given more than once".into()));
        assert_eq!(err(p("limit=5&limit=5")).0, "limit");
        let long = format!("make={}", "a".repeat(MAX_VALUE_CHARS + 1));
        assert_eq!(err(p(&long)), ("make".into(), format!("longer than {MAX_VALUE_CHARS} characters")));
        assert_eq!(err(p("make=%20%20")), ("make".into(), "must not be empty".into()));
        assert_eq!(err(p("q=")), ("q".into(), "must not be empty".into()));
    }

    #[test]
    fn values_reach_the_store_filter_normalised() {
        let f = filter("state=%20ca&year=2010&far_part=091&make=%20Cessna%20&has_narrative=1&weather=imc").unwrap();
        assert_eq!(f.state.as_deref(), Some("CA"));
        assert_eq!(f.year, Some(2010));
        assert_eq!(f.far_part.as_deref(), Some("091"));
        assert_eq!(f.make.as_deref(), Some("Cessna"));
        assert_eq!(f.has_narrative, Some(true));
        assert_eq!(f.weather, Some(ntsb_model::vocab::Weather::Imc));
        let q = p("q=carburetor%20icing&limit=7").unwrap();
        assert_eq!(q.1.words(), Some("carburetor icing"));
        assert_eq!(q.2.limit.map(Bounded::get), Some(7));
        assert_eq!(filter("").unwrap(), ntsb_model::query::EventFilter::default());
    }

    #[test]
    fn dates_must_be_real_and_iso() {
        assert_eq!(filter("from=2020-02-29").unwrap().from, NaiveDate::from_ymd_opt(2020, 2, 29));
        for bad in ["2020-1-01", "20200101", "2020/01/01", "x"] {
            let (name, reason) = err(filter(&format!("from={bad}")));
            assert_eq!(name, "from", "{bad}");
            assert!(reason.starts_with("expected a date YYYY-MM-DD"), "{bad}: {reason}");
        }
        // The shape is right, the day is not: say so.
        assert_eq!(err(filter("to=2024-02-30")), ("to".into(), "2024-02-30 is not a day of the calendar".into()));
        assert_eq!(err(filter("from=2020-13-01")).1, "2020-13-01 is not a day of the calendar");
        assert_eq!(err(filter("from=2020-02-01&to=2020-01-01")).0, "to");
    }

    #[test]
    fn years_states_and_parts_say_what_they_expect() {
        let (name, reason) = err(filter("year=1800"));
        assert_eq!(name, "year");
        assert!(reason.starts_with("must be between 1900 and "), "{reason}");
        assert_eq!(err(filter("year=twenty")).1, "expected an integer, got \"twenty\"");
        assert_eq!(err(filter("state=CAL")), ("state".into(), "expected a two-letter code, got \"CAL\"".into()));
        assert_eq!(err(filter("far_part=9%201")).0, "far_part");
        assert_eq!(err(filter("has_narrative=maybe")).1, "expected true or false, got \"maybe\"");
    }

    #[test]
    fn vocabularies_list_their_values() {
        assert_eq!(filter("highest_injury=FATAL").unwrap().highest_injury, Some(InjuryLevel::Fatal));
        let (name, reason) = err(filter("highest_injury=deadly"));
        assert_eq!(name, "highest_injury");
        assert_eq!(reason, "unknown value \"deadly\"; expected one of fatal, serious, minor, none, unknown");
    }

    #[test]
    fn bboxes_are_validated() {
        let b = filter("bbox=-125,24,-66,50").unwrap().bbox.unwrap();
        assert_eq!((b.min_lon, b.max_lat), (-125.0, 50.0));
        for bad in ["1,2,3", "a,b,c,d", "-66,24,-125,50", "0,0,200,10", "NaN,0,1,1", "inf,0,1,1"] {
            assert_eq!(err(filter(&format!("bbox={bad}"))).0, "bbox", "{bad}");
        }
    }

    #[test]
    fn the_same_types_read_a_json_filter() {
        let json = r#"{"year": 2010, "state": "ak", "has_narrative": true, "highest_injury": "fatal"}"#;
        let f: FilterQuery = serde_json::from_str(json).unwrap();
        let f = f.to_filter().unwrap();
        assert_eq!((f.year, f.state.as_deref(), f.has_narrative), (Some(2010), Some("AK"), Some(true)));
        assert!(serde_json::from_str::<FilterQuery>(r#"{"stat": "AK"}"#).is_err());
    }
}
