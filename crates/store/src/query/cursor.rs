//! Opaque keyset-pagination cursors.
//!
//! A cursor holds the sort key and internal id of the last item of a page, plus
//! the sort it was made for, as hex-encoded JSON. Clients treat it as opaque;
//! anything that does not decode, or that was made for another sort, is
//! [`Error::InvalidQuery`] naming `cursor`.

use ntsb_model::query::{Sort, SortField};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Sort key of the last item of a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortKey {
    /// Numeric keys (fatalities).
    Int(i64),
    /// Text keys (dates, states, makes).
    Text(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    /// Sort field.
    f: SortField,
    /// Descending.
    d: bool,
    /// Sort key of the last item.
    k: SortKey,
    /// Internal id of the last item (tie breaker).
    i: i64,
}

fn bad(reason: &str) -> Error {
    Error::InvalidQuery { parameter: "cursor".into(), reason: reason.into() }
}

/// Encodes the position after an item.
pub fn encode(sort: Sort, key: SortKey, id: i64) -> String {
    let payload = Payload { f: sort.field, d: sort.descending, k: key, i: id };
    // Serialising plain data to JSON cannot fail.
    hex::encode(serde_json::to_vec(&payload).unwrap_or_default())
}

/// Decodes a cursor made for `sort`: its key and id.
pub fn decode(cursor: &str, sort: Sort) -> Result<(SortKey, i64)> {
    if cursor.len() > 4096 {
        return Err(bad("is too long"));
    }
    let bytes = hex::decode(cursor.trim()).map_err(|_| bad("is not a cursor returned by this API"))?;
    let p: Payload = serde_json::from_slice(&bytes).map_err(|_| bad("is not a cursor returned by this API"))?;
    if p.f != sort.field || p.d != sort.descending {
        return Err(bad("was made for a different sort order"));
    }
    let key_ok = matches!((sort.field, &p.k), (SortField::Fatalities, SortKey::Int(_)))
        || matches!((sort.field, &p.k), (SortField::Date | SortField::State | SortField::Make, SortKey::Text(_)));
    if !key_ok {
        return Err(bad("is not a cursor returned by this API"));
    }
    Ok((p.k, p.i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let sort = Sort { field: SortField::Date, descending: true };
        let c = encode(sort, SortKey::Text("2010-01-02".into()), 42);
        assert_eq!(decode(&c, sort).unwrap(), (SortKey::Text("2010-01-02".into()), 42));
        assert!(decode("zz", sort).is_err());
        assert!(decode("", sort).is_err());
        assert!(decode(&hex::encode("{}"), sort).is_err());
        let other = Sort { field: SortField::Date, descending: false };
        assert!(matches!(decode(&c, other), Err(Error::InvalidQuery { parameter, .. }) if parameter == "cursor"));
        let fat = Sort { field: SortField::Fatalities, descending: true };
        assert!(decode(&encode(fat, SortKey::Text("x".into()), 1), fat).is_err());
    }
}
