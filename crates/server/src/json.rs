//! Strict parsing of JSON request bodies: a key that appears twice in one
//! object is refused with a 400 naming it (`features.make`, `items[2].ev_id`).
//!
//! `serde_json` keeps the last of duplicate keys, so a body could say one
//! thing to a check that reads the first occurrence (a proxy, a log, a WAF)
//! and another to us; RFC 8259 leaves the meaning undefined. Refusing them
//! keeps one meaning.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A JSON object body of at most `max` bytes parsed into a request type `T`
/// (which derives `Deserialize` with `deny_unknown_fields` and `ToSchema`, so the
/// one type both parses and documents the body). Too large is a 413; malformed
/// JSON, a duplicate key or another kind of value than an object a 400 as in
/// [`value`]; every other mistake a 400 naming the field by its path
/// (`features.make`, `items[2].ev_id`): missing, unknown, of the wrong type, or
/// refused by the field type's own check.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8], max: usize) -> Result<T, ApiError> {
    if body.len() > max {
        return Err(ApiError::PayloadTooLarge);
    }
    let value = match value(body)? {
        object @ Value::Object(_) => object,
        _ => return Err(ApiError::invalid("body", "must be a JSON object")),
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let (field, reason) = field_error("body", &e.path().to_string(), &e.inner().to_string());
        ApiError::invalid(field, reason)
    })
}

/// The field a deserialisation error at `path` (`.` for the whole input) is
/// about, and the reason in our words; `whole` names the input itself. serde
/// reports a missing, unknown or repeated field at its parent's path, naming
/// the field in the message (`missing field `email``).
pub(crate) fn field_error(whole: &str, path: &str, message: &str) -> (String, String) {
    let parent = if path == "." { "" } else { path };
    // The path of an unknown field already ends with it, a missing one's does
    // not; a client's key is echoed at most 80 characters long.
    let join = |name: &str| -> String {
        let path = if parent.is_empty() {
            name.to_string()
        } else if parent == name || parent.ends_with(&format!(".{name}")) {
            parent.to_string()
        } else {
            format!("{parent}.{name}")
        };
        path.chars().take(80).collect()
    };
    let quoted = |rest: &str| {
        rest.strip_prefix('`').and_then(|r| r.split_once('`')).map(|(name, tail)| (name.to_string(), tail.to_string()))
    };
    if let Some((name, _)) = message.strip_prefix("missing field ").and_then(quoted) {
        return (join(&name), "is required".into());
    }
    if let Some((name, tail)) = message.strip_prefix("unknown field ").and_then(quoted) {
        let expected = tail.trim_start_matches(", ").replace('`', "");
        let reason = if expected.starts_with("there are no fields") {
            "unknown field; this object takes no fields".to_string()
        } else {
            format!("unknown field; {expected}")
        };
        return (join(&name), reason);
    }
    if let Some((name, _)) = message.strip_prefix("duplicate field ").and_then(quoted) {
        return (join(&name), "appears twice; give it once".into());
    }
    // A field type that checks an object of its own names the inner field (see
    // [`inner_field_error`]).
    if let Some((name, tail)) = message.strip_prefix("field ").and_then(quoted) {
        return (join(&name), tail.trim_start_matches(": ").to_string());
    }
    let field = if parent.is_empty() { whole.to_string() } else { parent.to_string() };
    (field, message.replace('`', "").replace("invalid type: ", "").replace("invalid value: ", ""))
}

/// The error a field type gives when the value it checks is an object and
/// one of its fields is wrong: [`field_error`] names that field by its path.
pub(crate) fn inner_field_error<E: de::Error>(field: &str, reason: &str) -> E {
    E::custom(format!("field `{field}`: {reason}"))
}

/// Any JSON value, with duplicate keys refused.
pub(crate) fn value(body: &[u8]) -> Result<Value, ApiError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Strict { path: String::new(), duplicate: &duplicate }.deserialize(&mut de).and_then(|v| {
        de.end()?;
        Ok(v)
    });
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => match duplicate.into_inner() {
            Some(path) => Err(ApiError::invalid(path, "appears twice; each key may appear once")),
            None => Err(ApiError::invalid("body", format!("not valid JSON: {e}"))),
        },
    }
}

/// Deserialises one value at `path`, noting the first duplicate key.
struct Strict<'a> {
    path: String,
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let path = format!("{}[{}]", self.path, items.len());
            match seq.next_element_seed(Strict { path, duplicate: self.duplicate })? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let shown: String = key.chars().take(40).collect();
            let path = if self.path.is_empty() { shown } else { format!("{}.{shown}", self.path) };
            if object.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some(path);
                return Err(de::Error::custom("duplicate key"));
            }
            let v = map.next_value_seed(Strict { path, duplicate: self.duplicate })?;
            object.insert(key, v);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(body: &str) -> (String, String) {
        match parse::<Map<String, Value>>(body.as_bytes(), usize::MAX) {
            Err(ApiError::InvalidParameter { parameter, reason }) => (parameter, reason),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn duplicate_keys_are_refused_naming_their_path() {
        assert_eq!(refused(r#"{"email":"a@b.org","email":"c@d.org"}"#).0, "email");
        assert_eq!(refused(r#"{"features":{"make":"A","make":"B"}}"#).0, "features.make");
        assert_eq!(refused(r#"{"items":[{"ev_id":"1"},{"ev_id":"2","ev_id":"3"}]}"#).0, "items[1].ev_id");
        assert!(refused(r#"{"a":1,"a":2}"#).1.contains("twice"));
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read through Debug only
    struct Outer {
        name: String,
        inner: Option<Inner>,
        items: Option<Vec<Inner>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        flag: bool,
    }

    fn parse_refused(body: &str) -> (String, String) {
        match parse::<Outer>(body.as_bytes(), 1024) {
            Err(ApiError::InvalidParameter { parameter, reason }) => (parameter, reason),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn typed_bodies_name_the_field_by_its_path() {
        assert!(parse::<Outer>(br#"{"name":"a","items":[{"flag":true}]}"#, 1024).is_ok());
        assert_eq!(parse_refused(r#"{}"#), ("name".into(), "is required".into()));
        let (field, reason) = parse_refused(r#"{"name":"a","nme":1}"#);
        assert_eq!(field, "nme");
        assert!(reason.starts_with("unknown field; expected one of name, inner, items"), "{reason}");
        assert_eq!(parse_refused(r#"{"name":"a","inner":{}}"#).0, "inner.flag");
        assert_eq!(parse_refused(r#"{"name":"a","items":[{"flag":true},{"flag":1}]}"#).0, "items[1].flag");
        let (field, reason) = parse_refused(r#"{"name":7}"#);
        assert_eq!((field.as_str(), reason.as_str()), ("name", "integer 7, expected a string"));
        assert_eq!(parse_refused(r#"{"name":"a","name":"b"}"#).0, "name");
        assert_eq!(parse_refused(r#"[]"#).0, "body");
        assert!(matches!(parse::<Outer>(&[b' '; 2000], 1024), Err(ApiError::PayloadTooLarge)));
    }

    #[test]
    fn ordinary_json_is_read_as_serde_json_reads_it() {
        let text = r#"{"a":[1,-2,3.5,true,null,"x"],"b":{"c":{}},"d":18446744073709551615}"#;
        let ours = Value::Object(parse::<Map<String, Value>>(text.as_bytes(), usize::MAX).unwrap());
        let theirs: Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(refused("[1]").0, "body");
        assert_eq!(refused("{} trailing").0, "body");
        assert_eq!(refused("{\"a\":").0, "body");
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(value(deep.as_bytes()).is_err(), "nesting is bounded, not a stack overflow");
    }
}
