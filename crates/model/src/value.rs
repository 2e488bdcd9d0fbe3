//! The scalar values a record field can hold, independent of any database.

use serde::{Deserialize, Serialize};

/// One field value as readers produce it and stores keep it.
///
/// Dates are ISO-8601 text (`YYYY-MM-DD`), booleans are integers 0/1, so every
/// backend can store and compare them the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(untagged)]
pub enum Value {
    /// Absent or unknown.
    #[default]
    Null,
    /// A whole number (also booleans as 0/1).
    Int(i64),
    /// A floating-point number (coordinates, hours).
    Real(f64),
    /// Text (codes, names, ISO dates, narratives).
    Text(String),
}

impl Value {
    /// True when the value is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Compares two values the way the store decides "unchanged": reals compare
    /// within a relative 1e-9 so a round trip through text or a database never
    /// reports a spurious change.
    pub fn same_as(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Real(a), Value::Real(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
            (Value::Int(a), Value::Real(b)) | (Value::Real(b), Value::Int(a)) => (*a as f64 - b).abs() < 1e-9,
            _ => self == other,
        }
    }

    /// The value as display text, `None` for null. Used for revision history.
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(i.to_string()),
            Value::Real(r) => Some(r.to_string()),
            Value::Text(s) => Some(s.clone()),
        }
    }
}

/// Conversion of a typed record field into a [`Value`].
pub trait IntoValue {
    /// Converts the field.
    fn into_value(self) -> Value;
}

impl IntoValue for Option<String> {
    fn into_value(self) -> Value {
        self.map_or(Value::Null, Value::Text)
    }
}
impl IntoValue for String {
    fn into_value(self) -> Value {
        Value::Text(self)
    }
}
impl IntoValue for Option<i64> {
    fn into_value(self) -> Value {
        self.map_or(Value::Null, Value::Int)
    }
}
impl IntoValue for i64 {
    fn into_value(self) -> Value {
        Value::Int(self)
    }
}
impl IntoValue for Option<f64> {
    fn into_value(self) -> Value {
        self.map_or(Value::Null, Value::Real)
    }
}
impl IntoValue for Option<bool> {
    fn into_value(self) -> Value {
        self.map_or(Value::Null, |b| Value::Int(i64::from(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reals_within_rounding_are_the_same() {
        assert!(Value::Real(43.614444).same_as(&Value::Real(43.614444 + 1e-12)));
        assert!(!Value::Real(43.61).same_as(&Value::Real(43.62)));
        assert!(Value::Int(2).same_as(&Value::Real(2.0)));
        assert!(!Value::Null.same_as(&Value::Text(String::new())));
    }
}
