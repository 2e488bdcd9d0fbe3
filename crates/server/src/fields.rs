//! Field types of requests that check their own value while parsing and state
//! the same rule in the OpenAPI document, so a constraint has one home: a
//! string's length ([`Text`]), an integer's range ([`Bounded`]).

use std::borrow::Cow;

use serde::Deserialize;
use serde::de;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// The characters Rust's `str::trim` removes (Unicode White_Space) as the
/// inside of a regular-expression character class that ECMA-262 (the OpenAPI
/// document's dialect) and the `regex` crate read alike; their `\s` differ
/// (U+0085 is White_Space but not ECMA `\s`, U+FEFF the other way round).
/// For the patterns that state how a trimmed value is checked.
macro_rules! ws {
    () => {
        r"\t\n\x0B\x0C\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
    };
}
pub(crate) use ws;

/// Longest string field of a request body: longer is refused before any
/// work is done on it (no e-mail address, password, token or name needs more).
pub(crate) const MAX_TEXT: usize = 1024;

/// A string field of a request body, at most [`MAX_TEXT`] characters; the
/// limit is checked while parsing and stated in the OpenAPI document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text(String);

impl Text {
    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.chars().count() > MAX_TEXT {
            return Err(de::Error::custom(format!("must be at most {MAX_TEXT} characters")));
        }
        Ok(Text(text))
    }
}

impl utoipa::PartialSchema for Text {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(MAX_TEXT))
            .description(Some(format!("Text of at most {MAX_TEXT} characters.")))
            .into()
    }
}

impl utoipa::ToSchema for Text {}

/// An integer from `MIN` to `MAX`, given as a JSON number or as the text of a
/// query parameter; anything else is refused naming the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounded<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Bounded<MIN, MAX> {
    /// The value.
    pub(crate) fn get(self) -> i64 {
        self.0
    }

    fn refusal() -> String {
        format!("must be an integer from {MIN} to {MAX}")
    }
}

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Query strings give text, JSON gives numbers: accept either.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            // JSON does not tell 10 from 10.0: an integral float is that integer.
            Float(f64),
            Text(String),
        }
        let value = match Raw::deserialize(deserializer).map_err(|_| de::Error::custom(Self::refusal()))? {
            Raw::Number(n) => Some(n),
            Raw::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Some(x as i64),
            Raw::Float(_) => None,
            Raw::Text(text) => text.trim().parse::<i64>().ok(),
        };
        match value {
            Some(n) if (MIN..=MAX).contains(&n) => Ok(Bounded(n)),
            _ => Err(de::Error::custom(Self::refusal())),
        }
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::PartialSchema for Bounded<MIN, MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(MIN)).maximum(Some(MAX)).into()
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::ToSchema for Bounded<MIN, MAX> {
    fn name() -> Cow<'static, str> {
        // One component per range: the generic type's name alone would collide.
        Cow::Owned(format!("Integer_{MIN}_to_{MAX}").replace('-', "minus"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_refuses_what_is_too_long() {
        let ok: Text = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(ok.as_str(), "abc");
        let long = format!("\"{}\"", "é".repeat(MAX_TEXT + 1));
        let err = serde_json::from_str::<Text>(&long).unwrap_err().to_string();
        assert!(err.contains("at most 1024 characters"), "{err}");
        assert!(serde_json::from_str::<Text>("7").is_err());
    }

    #[test]
    fn bounded_reads_numbers_and_query_text_within_its_range() {
        type Limit = Bounded<1, 1000>;
        assert_eq!(serde_json::from_str::<Limit>("5").unwrap().get(), 5);
        assert_eq!(serde_json::from_str::<Limit>("\"1000\"").unwrap().get(), 1000);
        assert_eq!(serde_json::from_str::<Limit>("7.0").unwrap().get(), 7);
        for refused in ["0", "1001", "\"x\"", "1.5", "null", "-3", "1e300"] {
            let err = serde_json::from_str::<Limit>(refused).unwrap_err().to_string();
            assert!(err.starts_with("must be an integer from 1 to 1000"), "{refused}: {err}");
        }
        assert_eq!(<Limit as utoipa::ToSchema>::name(), "Integer_1_to_1000");
    }
}
