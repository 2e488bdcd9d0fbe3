//! Values of query parameters that check themselves while parsing and state
//! the same rule in the OpenAPI document: each type here is the one home of its
//! rule. Query strings give text; the same types also read JSON (a number for
//! a year, `true` for a flag), so a filter sent in a body means the same.

use std::borrow::Cow;
use std::marker::PhantomData;

use chrono::{Datelike, NaiveDate};
use ntsb_model::query::BBox;
use ntsb_model::vocab::Vocabulary;
use serde::de::{self, Deserialize, Deserializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

use super::MAX_VALUE_CHARS;
use crate::fields::ws;

/// Reads a value given as JSON text, number or boolean, or as query text, as
/// the text a query string would carry. Errors of the input itself (a
/// missing field) pass through unchanged.
struct AsText;

impl de::Visitor<'_> for AsText {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a text, number or boolean value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// Reads the trimmed text of a value; blank is refused (say nothing instead),
/// and so is text longer than [`MAX_VALUE_CHARS`].
fn trimmed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = deserializer.deserialize_any(AsText)?;
    if text.chars().count() > MAX_VALUE_CHARS {
        return Err(de::Error::custom(format!("longer than {MAX_VALUE_CHARS} characters")));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(de::Error::custom("must not be empty"));
    }
    Ok(text.to_string())
}

/// A user value quoted for a message, shortened.
pub(crate) fn show(v: &str) -> String {
    let short: String = v.chars().take(60).collect();
    if short.len() < v.len() { format!("{short:?}…") } else { format!("{short:?}") }
}

/// A string schema with a pattern and the common length limit.
fn string_schema(pattern: &str) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).max_length(Some(MAX_VALUE_CHARS)).into()
}

/// Implements `ToSchema` under the type's own name (the schemas are inlined
/// into parameters, so the name only matters if one is ever referenced).
macro_rules! named_schema {
    ($($name:ident),*) => {$(
        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    )*};
}

/// What every free-text parameter must be, as a regular expression: not blank
/// (a blank value is refused as "must not be empty").
pub const TEXT_PATTERN: &str = concat!("[^", ws!(), "]");

/// Free text (`make`, `country`, `q`, a cursor): trimmed, not blank, at most
/// [`MAX_VALUE_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilterText(String);

impl FilterText {
    /// The trimmed text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The trimmed text, owned.
    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for FilterText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        trimmed(deserializer).map(FilterText)
    }
}

impl utoipa::PartialSchema for FilterText {
    fn schema() -> RefOr<Schema> {
        string_schema(TEXT_PATTERN)
    }
}

/// The rule of `state` as a regular expression (text is trimmed first, hence
/// the optional spaces); a test checks that it agrees with the parser.
pub const STATE_PATTERN: &str = concat!("^[", ws!(), "]*[A-Za-z]{2}[", ws!(), "]*$");

/// A two-letter state code, any case in, upper case out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateCode(String);

impl StateCode {
    /// The code in upper case (`CA`).
    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for StateCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = trimmed(deserializer)?;
        if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(StateCode(text.to_ascii_uppercase()))
        } else {
            Err(de::Error::custom(format!("expected a two-letter code, got {}", show(&text))))
        }
    }
}

impl utoipa::PartialSchema for StateCode {
    fn schema() -> RefOr<Schema> {
        string_schema(STATE_PATTERN)
    }
}

/// The rule of `far_part` as a regular expression.
pub const FAR_PART_PATTERN: &str = concat!("^[", ws!(), "]*[A-Za-z0-9]{1,8}[", ws!(), "]*$");

/// A FAR part code: 1 to 8 ASCII letters and digits (`91`, `091`, `135`, `NUSC`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FarPart(String);

impl FarPart {
    /// The code as given (trimmed); the store matches `91` to `091`.
    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for FarPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = trimmed(deserializer)?;
        if text.len() <= 8 && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(FarPart(text))
        } else {
            Err(de::Error::custom(format!("expected a FAR part code such as 91, got {}", show(&text))))
        }
    }
}

impl utoipa::PartialSchema for FarPart {
    fn schema() -> RefOr<Schema> {
        string_schema(FAR_PART_PATTERN)
    }
}

/// The first year `year` accepts.
pub const FIRST_YEAR: i32 = 1900;

/// The last year `year` accepts: next year (an event is dated when it happens,
/// and clocks differ around New Year).
pub fn last_year() -> i32 {
    chrono::Utc::now().year() + 1
}

/// A calendar year from [`FIRST_YEAR`] to [`last_year`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Year(i32);

impl Year {
    /// The year.
    pub(crate) fn get(self) -> i32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Year {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = trimmed(deserializer)?;
        let year: i64 =
            text.parse().map_err(|_| de::Error::custom(format!("expected an integer, got {}", show(&text))))?;
        let last = last_year();
        if !(i64::from(FIRST_YEAR)..=i64::from(last)).contains(&year) {
            return Err(de::Error::custom(format!("must be between {FIRST_YEAR} and {last}, got {year}")));
        }
        Ok(Year(year as i32))
    }
}

impl utoipa::PartialSchema for Year {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(FIRST_YEAR)).maximum(Some(last_year())).into()
    }
}

/// A calendar date `YYYY-MM-DD` that exists (`2024-02-30` does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IsoDate(NaiveDate);

impl IsoDate {
    /// The date.
    pub(crate) fn get(self) -> NaiveDate {
        self.0
    }
}

impl<'de> Deserialize<'de> for IsoDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = trimmed(deserializer)?;
        let shaped = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        if !shaped {
            return Err(de::Error::custom(format!("expected a date YYYY-MM-DD, got {}", show(&text))));
        }
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map(IsoDate)
            .map_err(|_| de::Error::custom(format!("{text} is not a day of the calendar")))
    }
}

impl utoipa::PartialSchema for IsoDate {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))).into()
    }
}

/// The shape of `bbox` as a regular expression: four comma-separated numbers,
/// longitudes within -180..180 and latitudes within -90..90. That the minimum
/// must not exceed the maximum is said in the description; a pattern cannot
/// compare numbers.
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

/// A bounding box `min_lon,min_lat,max_lon,max_lat` in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BoundingBox(BBox);

impl BoundingBox {
    /// The box.
    pub(crate) fn get(self) -> BBox {
        self.0
    }
}

impl<'de> Deserialize<'de> for BoundingBox {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = trimmed(deserializer)?;
        let bad = |why: &str| de::Error::custom(format!("expected min_lon,min_lat,max_lon,max_lat: {why}"));
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        if parts.len() != 4 {
            return Err(bad(&format!("got {} values", parts.len())));
        }
        let mut n = [0.0; 4];
        for (slot, part) in n.iter_mut().zip(&parts) {
            *slot = parse_f64(part).ok_or_else(|| bad(&format!("{} is not a number", show(part))))?;
        }
        let [min_lon, min_lat, max_lon, max_lat] = n;
        let (lon, lat) = (-180.0..=180.0, -90.0..=90.0);
        if !lon.contains(&min_lon) || !lon.contains(&max_lon) {
            return Err(bad("longitudes must be within -180..180"));
        }
        if !lat.contains(&min_lat) || !lat.contains(&max_lat) {
            return Err(bad("latitudes must be within -90..90"));
        }
        if min_lon > max_lon || min_lat > max_lat {
            return Err(bad("the minimum must not exceed the maximum"));
        }
        Ok(BoundingBox(BBox { min_lon, min_lat, max_lon, max_lat }))
    }
}

impl utoipa::PartialSchema for BoundingBox {
    fn schema() -> RefOr<Schema> {
        string_schema(BBOX_PATTERN)
    }
}

/// `true` or `false` (also `1` and `0`, any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flag(bool);

impl Flag {
    /// The value.
    pub(crate) fn get(self) -> bool {
        self.0
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = trimmed(deserializer)?;
        match text.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Flag(true)),
            "false" | "0" => Ok(Flag(false)),
            _ => Err(de::Error::custom(format!("expected true or false, got {}", show(&text)))),
        }
    }
}

impl utoipa::PartialSchema for Flag {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Boolean).into()
    }
}

/// A value of a vocabulary ([`Vocabulary`]) by its canonical spelling, any
/// letter case; the document lists the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OneOf<V>(V);

impl<V: Vocabulary> OneOf<V> {
    /// The value.
    pub(crate) fn get(self) -> V {
        self.0
    }
}

impl<'de, V: Vocabulary> Deserialize<'de> for OneOf<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = trimmed(deserializer)?;
        V::ALL.iter().copied().find(|v| v.canonical().eq_ignore_ascii_case(&text)).map(OneOf).ok_or_else(|| {
            let names: Vec<&str> = V::ALL.iter().map(|v| v.canonical()).collect();
            de::Error::custom(format!("unknown value {}; expected one of {}", show(&text), names.join(", ")))
        })
    }
}

impl<V: Vocabulary> utoipa::PartialSchema for OneOf<V> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(V::ALL.iter().map(|v| v.canonical()))).into()
    }
}

impl<V: Vocabulary> utoipa::ToSchema for OneOf<V> {
    fn name() -> Cow<'static, str> {
        let full = std::any::type_name::<V>();
        Cow::Borrowed(full.rsplit("::").next().unwrap_or(full))
    }
}

/// A finite decimal number within a range fixed by `R`, any of whose bounds may
/// be exclusive (a radius must be more than 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Decimal<R>(f64, PhantomData<R>);

/// The range of a [`Decimal`].
pub(crate) trait DecimalRange: 'static {
    /// Lowest value.
    const MIN: f64;
    /// Whether [`Self::MIN`] itself is refused.
    const MIN_EXCLUSIVE: bool = false;
    /// Highest value (inclusive).
    const MAX: f64;
}

impl<R: DecimalRange> Decimal<R> {
    /// The value.
    pub(crate) fn get(self) -> f64 {
        self.0
    }
}

impl<'de, R: DecimalRange> Deserialize<'de> for Decimal<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = trimmed(deserializer)?;
        let x = parse_f64(&text).ok_or_else(|| de::Error::custom(format!("expected a number, got {}", show(&text))))?;
        let above_min = if R::MIN_EXCLUSIVE { x > R::MIN } else { x >= R::MIN };
        if !above_min || x > R::MAX {
            let low = if R::MIN_EXCLUSIVE { "more than" } else { "between" };
            let joint = if R::MIN_EXCLUSIVE { "and at most" } else { "and" };
            return Err(de::Error::custom(format!("must be {low} {} {joint} {}, got {x}", R::MIN, R::MAX)));
        }
        Ok(Decimal(x, PhantomData))
    }
}

impl<R: DecimalRange> utoipa::PartialSchema for Decimal<R> {
    fn schema() -> RefOr<Schema> {
        let builder = ObjectBuilder::new().schema_type(Type::Number).maximum(Some(R::MAX));
        if R::MIN_EXCLUSIVE { builder.exclusive_minimum(Some(R::MIN)) } else { builder.minimum(Some(R::MIN)) }.into()
    }
}

impl<R: DecimalRange> utoipa::ToSchema for Decimal<R> {
    fn name() -> Cow<'static, str> {
        let full = std::any::type_name::<R>();
        Cow::Borrowed(full.rsplit("::").next().unwrap_or(full))
    }
}

/// Declares a [`DecimalRange`]: `decimal_range!(Latitude, -90.0 ..= 90.0)`, or
/// `decimal_range!(RadiusKm, > 0.0, ..= 20040.0)` for an exclusive minimum.
macro_rules! decimal_range {
    ($(#[$m:meta])* $name:ident, $min:literal ..= $max:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub(crate) struct $name;
        impl $crate::params::values::DecimalRange for $name {
            const MIN: f64 = $min;
            const MAX: f64 = $max;
        }
    };
    ($(#[$m:meta])* $name:ident, > $min:literal, ..= $max:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub(crate) struct $name;
        impl $crate::params::values::DecimalRange for $name {
            const MIN: f64 = $min;
            const MIN_EXCLUSIVE: bool = true;
            const MAX: f64 = $max;
        }
    };
}
pub(crate) use decimal_range;

/// Longest event id or case number looked up.
pub(crate) const MAX_EVENT_ID_CHARS: usize = 40;

/// The rule of an event id or NTSB case number as a regular expression: 1 to
/// 40 ASCII letters, digits, `-` and `_` (trimmed first).
pub const EVENT_ID_PATTERN: &str = concat!("^[", ws!(), "]*[A-Za-z0-9_-]{1,40}[", ws!(), "]*$");

/// Whether trimmed `s` can be an event id or case number at all (anything else
/// is not looked up).
pub(crate) fn is_event_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= MAX_EVENT_ID_CHARS
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An NTSB event id (`20080124X00101`) or case number (`ERA22LA123`), trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventId(String);

impl EventId {
    /// The id.
    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let id = text.trim();
        if is_event_id(id) { Ok(EventId(id.to_string())) } else { Err(de::Error::custom("not an NTSB event id")) }
    }
}

impl utoipa::PartialSchema for EventId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some(EVENT_ID_PATTERN)).into()
    }
}

named_schema!(FilterText, StateCode, FarPart, Year, IsoDate, BoundingBox, Flag, EventId);

/// Parses a finite decimal number (no `inf`, `NaN`, hex).
fn parse_f64(s: &str) -> Option<f64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')) {
        return None;
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}
