//! Query-string parsing with explicit validation.
//!
//! Each endpoint declares the parameters it accepts; anything else is a 400 that
//! names the unknown parameter (a typo such as `?stat=CA` must not silently
//! return every state). Values are parsed into typed values here, and every
//! failure names its parameter, so callers get one clear message instead of a
//! framework rejection.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate};
use ntsb_model::query::{BBox, EventFilter, MAX_PAGE, Sort, SortField};
use ntsb_model::vocab::{Damage, EventType, InjuryLevel, Phase, Weather};

use crate::error::ApiError;
use crate::fields::ws;

/// The filter parameters every event-based endpoint accepts (see [`Params::event_filter`]).
pub const FILTER_PARAMS: &[&str] = &[
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
    "q",
];

/// Longest value accepted for any parameter, in characters.
pub const MAX_VALUE_CHARS: usize = 2_000;

/// Most events a `q` narrows a filter to before structured filters apply
/// (the best matches by relevance).
pub const MAX_TEXT_MATCHES: usize = ntsb_search::MAX_IDS;

/// The parsed query string of one request.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parses a raw (percent-encoded) query string, refusing parameters not in
    /// `allowed` and parameters given twice.
    pub fn parse(raw: Option<&str>, allowed: &[&[&str]]) -> Result<Params, ApiError> {
        let mut values = BTreeMap::new();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let key = key.into_owned();
            if !allowed.iter().any(|set| set.contains(&key.as_str())) {
                let mut names: Vec<&str> = allowed.iter().flat_map(|s| s.iter().copied()).collect();
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
            if values.insert(key.clone(), value.into_owned()).is_some() {
                return Err(ApiError::invalid(key, "given more than once"));
            }
        }
        Ok(Params { values })
    }

    /// The trimmed text of `name`; an empty value is an error (say nothing instead).
    pub fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.values.get(name) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Err(ApiError::invalid(name, "must not be empty")),
            Some(v) => Ok(Some(v.trim().to_string())),
        }
    }

    /// An integer within `range`.
    pub fn int(&self, name: &str, range: RangeInclusive<i64>) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.text(name)? else { return Ok(None) };
        let n: i64 =
            v.parse().map_err(|_| ApiError::invalid(name, format!("expected an integer, got {}", show(&v))))?;
        if !range.contains(&n) {
            return Err(ApiError::invalid(
                name,
                format!("must be between {} and {}, got {n}", range.start(), range.end()),
            ));
        }
        Ok(Some(n))
    }

    /// A finite number within `range`.
    pub fn float(&self, name: &str, range: RangeInclusive<f64>) -> Result<Option<f64>, ApiError> {
        let Some(v) = self.text(name)? else { return Ok(None) };
        let x = parse_f64(&v).ok_or_else(|| ApiError::invalid(name, format!("expected a number, got {}", show(&v))))?;
        if !range.contains(&x) {
            return Err(ApiError::invalid(
                name,
                format!("must be between {} and {}, got {x}", range.start(), range.end()),
            ));
        }
        Ok(Some(x))
    }

    /// A number that must be present.
    pub fn required_float(&self, name: &str, range: RangeInclusive<f64>) -> Result<f64, ApiError> {
        self.float(name, range)?.ok_or_else(|| ApiError::invalid(name, "is required"))
    }

    /// `true`/`false` (also `1`/`0`).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        let Some(v) = self.text(name)? else { return Ok(None) };
        match v.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(ApiError::invalid(name, format!("expected true or false, got {}", show(&v)))),
        }
    }

    /// A calendar date `YYYY-MM-DD`.
    pub fn date(&self, name: &str) -> Result<Option<NaiveDate>, ApiError> {
        let Some(v) = self.text(name)? else { return Ok(None) };
        let bad = || ApiError::invalid(name, format!("expected a date YYYY-MM-DD, got {}", show(&v)));
        let shaped = v.len() == 10
            && v.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        if !shaped {
            return Err(bad());
        }
        NaiveDate::parse_from_str(&v, "%Y-%m-%d").map(Some).map_err(|_| bad())
    }

    /// A value of a vocabulary, by its canonical spelling (any letter case).
    pub fn vocab<T: Copy>(&self, name: &str, all: &[T], as_str: fn(T) -> &'static str) -> Result<Option<T>, ApiError> {
        let Some(v) = self.text(name)? else { return Ok(None) };
        all.iter().copied().find(|t| as_str(*t).eq_ignore_ascii_case(&v)).map(Some).ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|t| as_str(*t)).collect();
            ApiError::invalid(name, format!("unknown value {}; expected one of {}", show(&v), names.join(", ")))
        })
    }

    /// Page size, `1..=max`, `default` when absent.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        Ok(self.int("limit", 1..=max as i64)?.map_or(default, |n| n as usize))
    }

    /// A bounding box `min_lon,min_lat,max_lon,max_lat`.
    pub fn bbox(&self, name: &str) -> Result<Option<BBox>, ApiError> {
        let Some(v) = self.text(name)? else { return Ok(None) };
        let bad = |why: &str| ApiError::invalid(name, format!("expected min_lon,min_lat,max_lon,max_lat: {why}"));
        let parts: Vec<&str> = v.split(',').map(str::trim).collect();
        if parts.len() != 4 {
            return Err(bad(&format!("got {} values", parts.len())));
        }
        let mut n = [0.0; 4];
        for (slot, part) in n.iter_mut().zip(&parts) {
            *slot = parse_f64(part).ok_or_else(|| bad(&format!("{} is not a number", show(part))))?;
        }
        let [min_lon, min_lat, max_lon, max_lat] = n;
        let lon = -180.0..=180.0;
        let lat = -90.0..=90.0;
        if !lon.contains(&min_lon) || !lon.contains(&max_lon) {
            return Err(bad("longitudes must be within -180..180"));
        }
        if !lat.contains(&min_lat) || !lat.contains(&max_lat) {
            return Err(bad("latitudes must be within -90..90"));
        }
        if min_lon > max_lon || min_lat > max_lat {
            return Err(bad("the minimum must not exceed the maximum"));
        }
        Ok(Some(BBox { min_lon, min_lat, max_lon, max_lat }))
    }

    /// The sort order: `date`, `-date`, `fatalities`, `-fatalities`, `state`, `-state`, `make`, `-make`.
    pub fn sort(&self) -> Result<Sort, ApiError> {
        let Some(v) = self.text("sort")? else { return Ok(Sort::default()) };
        let (descending, key) = match v.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, v.as_str()),
        };
        let field = match key {
            "date" => SortField::Date,
            "fatalities" => SortField::Fatalities,
            "state" => SortField::State,
            "make" => SortField::Make,
            _ => {
                return Err(ApiError::invalid(
                    "sort",
                    format!(
                        "unknown sort {}; expected date, fatalities, state or make, with - for descending",
                        show(&v)
                    ),
                ));
            }
        };
        Ok(Sort { field, descending })
    }

    /// The free-text `q`, if any.
    pub fn q(&self) -> Result<Option<String>, ApiError> {
        self.text("q")
    }

    /// The structured event filter ([`FILTER_PARAMS`] except `q`, which needs the
    /// search index: see [`crate::routes`]).
    pub fn event_filter(&self) -> Result<EventFilter, ApiError> {
        let from = self.date("from")?;
        let to = self.date("to")?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(ApiError::invalid("to", format!("{t} is before from ({f})")));
        }
        let year = self.int("year", year_range())?.map(|y| y as i32);
        let state = self.text("state")?;
        if let Some(s) = &state
            && !is_state_code(s)
        {
            return Err(ApiError::invalid("state", format!("expected a two-letter code, got {}", show(s))));
        }
        let far_part = self.text("far_part")?;
        if let Some(p) = &far_part
            && !is_far_part(p)
        {
            return Err(ApiError::invalid("far_part", format!("expected a FAR part code such as 91, got {}", show(p))));
        }
        Ok(EventFilter {
            from,
            to,
            year,
            state: state.map(|s| s.to_ascii_uppercase()),
            country: self.text("country")?,
            highest_injury: self.vocab("highest_injury", InjuryLevel::ALL, InjuryLevel::as_str)?,
            damage: self.vocab("damage", Damage::ALL, Damage::as_str)?,
            make: self.text("make")?,
            model: self.text("model")?,
            category: self.text("category")?,
            far_part,
            phase: self.vocab("phase", Phase::ALL, Phase::as_str)?,
            weather: self.vocab("weather", Weather::ALL, Weather::as_str)?,
            event_type: self.vocab("event_type", EventType::ALL, EventType::as_str)?,
            has_narrative: self.bool("has_narrative")?,
            bbox: self.bbox("bbox")?,
            event_ids: None,
        })
    }
}

/// The years `year` accepts: 1900 to next year.
pub fn year_range() -> RangeInclusive<i64> {
    1900..=chrono::Utc::now().year() as i64 + 1
}

/// The rule of `state` as a regular expression, for the OpenAPI document; a
/// test checks that it agrees with [`is_state_code`]. Text parameters are
/// trimmed first, hence the optional spaces.
pub const STATE_PATTERN: &str = concat!("^[", ws!(), "]*[A-Za-z]{2}[", ws!(), "]*$");

/// A two-letter state code (any case).
fn is_state_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// The rule of `far_part` as a regular expression, for the OpenAPI document.
pub const FAR_PART_PATTERN: &str = concat!("^[", ws!(), "]*[A-Za-z0-9]{1,8}[", ws!(), "]*$");

/// A FAR part code: 1 to 8 ASCII letters and digits (`91`, `091`, `135`, `NUSC`).
fn is_far_part(p: &str) -> bool {
    !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The shape of `bbox` as a regular expression, for the OpenAPI document:
/// four comma-separated numbers, longitudes within -180..180 and latitudes
/// within -90..90. That the minimum must not exceed the maximum is said in the
/// parameter's description; a pattern cannot compare numbers.
pub const BBOX_PATTERN: &str = concat!(
    "^[",
    ws!(),
    "]*",
    r"-?(?:180(?:\.0+)?|(?:1[0-7]\d|\d{1,2})(?:\.\d+)?)",
    "[",
    ws!(),
    "]*,[",
    ws!(),
    "]*",
    r"-?(?:90(?:\.0+)?|[1-8]?\d(?:\.\d+)?)",
    "[",
    ws!(),
    "]*,[",
    ws!(),
    "]*",
    r"-?(?:180(?:\.0+)?|(?:1[0-7]\d|\d{1,2})(?:\.\d+)?)",
    "[",
    ws!(),
    "]*,[",
    ws!(),
    "]*",
    r"-?(?:90(?:\.0+)?|[1-8]?\d(?:\.\d+)?)",
    "[",
    ws!(),
    "]*$"
);

/// What every other text parameter must be, for the OpenAPI document: not
/// blank (a blank value is refused as "must not be empty").
pub const TEXT_PATTERN: &str = concat!("[^", ws!(), "]");

/// Page size bounds of event listings.
pub const EVENTS_LIMIT: (usize, usize) = (100, MAX_PAGE);

/// Parses a finite decimal number (no `inf`, `NaN`, hex).
fn parse_f64(s: &str) -> Option<f64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')) {
        return None;
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A user value quoted for a message, shortened.
fn show(v: &str) -> String {
    let short: String = v.chars().take(60).collect();
    if short.len() < v.len() { format!("{short:?}…") } else { format!("{short:?}") }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            // What `Params::text` hands to the checks: trimmed, refused when blank.
            let trimmed = raw.trim();
            let passes_text = !trimmed.is_empty();
            assert_eq!(text.is_match(raw), passes_text, "text {raw:?}");
            assert_eq!(state.is_match(raw), passes_text && is_state_code(trimmed), "state {raw:?}");
            assert_eq!(far.is_match(raw), passes_text && is_far_part(trimmed), "far_part {raw:?}");
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
            let parsed = Params::parse(Some(&format!("bbox={}", raw.replace(' ', "%20"))), &[&["bbox"]]).unwrap();
            let accepted = parsed.bbox("bbox").is_ok();
            // The parser also reads exponents (`-1e1`), which the document leaves unsaid:
            // what the pattern admits is accepted, and for plain decimals the two agree.
            if raw.contains('e') {
                assert!(!pattern.is_match(raw) || accepted, "{raw:?}");
            } else {
                assert_eq!(pattern.is_match(raw), accepted, "{raw:?}");
            }
        }
    }

    fn p(q: &str) -> Params {
        Params::parse(Some(q), &[FILTER_PARAMS, &["limit", "sort", "cursor"]]).unwrap()
    }

    fn err(r: Result<impl std::fmt::Debug, ApiError>) -> (String, String) {
        match r.unwrap_err() {
            ApiError::InvalidParameter { parameter, reason } => (parameter, reason),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_and_repeated_parameters_are_refused_by_name() {
        let (name, _) = err(Params::parse(Some("stat=CA"), &[FILTER_PARAMS]));
        assert_eq!(name, "stat");
        let (name, _) = err(Params::parse(Some("state=CA&state=TX"), &[FILTER_PARAMS]));
        assert_eq!(name, "state");
    }

    #[test]
    fn dates_must_be_real_and_iso() {
        assert_eq!(p("from=2020-02-29").date("from").unwrap(), NaiveDate::from_ymd_opt(2020, 2, 29));
        for bad in ["2021-02-29", "2020-13-01", "2020-1-01", "20200101", "2020/01/01", "x"] {
            let (name, _) = err(p(&format!("from={bad}")).date("from"));
            assert_eq!(name, "from", "{bad}");
        }
        let (name, _) = err(p("from=2020-02-01&to=2020-01-01").event_filter());
        assert_eq!(name, "to");
    }

    #[test]
    fn vocabularies_list_their_values() {
        assert_eq!(p("highest_injury=FATAL").event_filter().unwrap().highest_injury, Some(InjuryLevel::Fatal));
        let (name, reason) = err(p("highest_injury=deadly").event_filter());
        assert_eq!(name, "highest_injury");
        assert!(reason.contains("fatal"), "{reason}");
    }

    #[test]
    fn bbox_and_numbers_are_validated() {
        let b = p("bbox=-125,24,-66,50").bbox("bbox").unwrap().unwrap();
        assert_eq!((b.min_lon, b.max_lat), (-125.0, 50.0));
        for bad in ["1,2,3", "a,b,c,d", "-66,24,-125,50", "0,0,200,10", "NaN,0,1,1", "inf,0,1,1"] {
            assert_eq!(err(p(&format!("bbox={bad}")).bbox("bbox")).0, "bbox", "{bad}");
        }
        assert_eq!(err(p("limit=0").limit(100, 1000)).0, "limit");
        assert_eq!(err(p("limit=5000").limit(100, 1000)).0, "limit");
        assert_eq!(p("limit=1000").limit(100, 1000).unwrap(), 1000);
    }

    #[test]
    fn sort_accepts_descending_prefix() {
        assert_eq!(p("sort=-fatalities").sort().unwrap(), Sort { field: SortField::Fatalities, descending: true });
        assert_eq!(p("sort=date").sort().unwrap(), Sort { field: SortField::Date, descending: false });
        assert_eq!(err(p("sort=speed").sort()).0, "sort");
    }
}
