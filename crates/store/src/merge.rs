//! The rules that decide what a write does to a stored row, written once for
//! both backends and free of I/O: source precedence, generations, revisions,
//! and how a placeholder event is absorbed. The backends' upserts (`sqlite/upsert.rs`,
//! `postgres/upsert.rs`) read the stored row, ask [`decide`], and write what it says.
//!
//! Per-field provenance lives in each row's `field_sources` JSON object: column
//! name → `kind:generation` tag ([`Precedence::tag`]).

use std::collections::BTreeMap;

use ntsb_model::SourceKind;
use ntsb_model::value::Value;

use crate::{Error, Result};

/// A row's `field_sources`: column → `kind:generation`.
pub(crate) type Sources = BTreeMap<String, String>;

/// Parses a stored `field_sources` value.
pub(crate) fn parse_sources(table: &str, raw: &str) -> Result<Sources> {
    serde_json::from_str(raw).map_err(|e| Error::Corrupt(format!("{table}.field_sources is not a JSON object: {e}")))
}

/// Encodes `field_sources` for storage.
pub(crate) fn sources_json(sources: &Sources) -> Result<String> {
    serde_json::to_string(sources).map_err(|e| Error::Corrupt(format!("field_sources cannot be encoded: {e}")))
}

/// A `field_sources` entry: `kind:generation` (or plain `kind` from before
/// generations were recorded, read as generation 0).
pub(crate) fn parse_tag(tag: &str) -> Option<(SourceKind, i64)> {
    let (kind, generation) = match tag.split_once(':') {
        Some((k, g)) => (k, g.parse().ok()?),
        None => (tag, 0),
    };
    Some((SourceKind::parse(kind)?, generation))
}

/// Trimmed non-empty text of a key value.
pub(crate) fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Key values as revision text: `"1"`, `"1/2"`.
pub(crate) fn join_key(key: &[Value]) -> String {
    key.iter().map(|v| v.to_text().unwrap_or_default()).collect::<Vec<_>>().join("/")
}

/// Who is writing: a kind of source and the generation of its file (the
/// ledger id of the first load of the same content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Precedence {
    /// The kind of source.
    pub kind: SourceKind,
    /// Between two files of one kind, the later generation wins, so re-loading
    /// older files never undoes a newer one.
    pub generation: i64,
    /// `kind:generation`, as recorded in `field_sources`.
    pub tag: String,
}

impl Precedence {
    /// The precedence of a load of `kind` at `generation`.
    pub(crate) fn new(kind: SourceKind, generation: i64) -> Precedence {
        Precedence { kind, generation, tag: format!("{}:{generation}", kind.as_str()) }
    }

    /// `field_sources` of a new row: this source for every known column.
    pub(crate) fn initial_sources(&self, cols: &[&str], values: &[Value]) -> Sources {
        cols.iter()
            .zip(values)
            .filter(|(_, v)| !v.is_null())
            .map(|(c, _)| ((*c).to_string(), self.tag.clone()))
            .collect()
    }
}

/// A stored row as [`decide`] sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Existing<'a> {
    /// The table, for error messages.
    pub table: &'a str,
    /// Compared columns, in order.
    pub cols: &'a [&'static str],
    /// Their stored values.
    pub values: &'a [Value],
    /// The stored `field_sources` JSON.
    pub sources: &'a str,
}

/// One field change to record in the revision history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Revised {
    /// The column.
    pub field: &'static str,
    /// Its value before, as text.
    pub old: Option<String>,
    /// Its value after, as text.
    pub new: Option<String>,
}

/// What a write does to a stored row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// Nothing: every incoming value is null, already stored, or outranked.
    Unchanged,
    /// The row becomes `values` with `sources`; `revisions` are the changes to
    /// record, in column order.
    Changed {
        /// The row's new compared values.
        values: Vec<Value>,
        /// Its new provenance.
        sources: Sources,
        /// Changes to record.
        revisions: Vec<Revised>,
        /// Every column that changes, in column order (for the change log).
        fields: Vec<&'static str>,
    },
}

/// Applies `incoming` to `existing` under the precedence rules:
///
/// * null never overwrites; a value equal to the stored one changes nothing;
/// * an unknown stored value is always filled;
/// * otherwise a more trusted kind of source wins, and between equally trusted
///   kinds the later generation (a newer file); within one file the first
///   value stands. Re-loading anything in any order therefore changes nothing.
///
/// A revision is a change to what a source published: a value replaced, or a
/// field filled by a kind of source that described this row before (a
/// preliminary record gaining its probable cause). A field filled by a kind of
/// source seen here for the first time is a merge, not a revision.
pub(crate) fn decide(existing: Existing<'_>, incoming: &[Value], by: &Precedence) -> Result<Outcome> {
    let stored = existing.values;
    let differs = |i: usize| {
        let v = &incoming[i];
        !v.is_null() && !v.same_as(&stored[i])
    };
    let n = existing.cols.len().min(incoming.len()).min(stored.len());
    // The common case, decided without parsing the sources.
    if !(0..n).any(differs) {
        return Ok(Outcome::Unchanged);
    }
    let mut sources = parse_sources(existing.table, existing.sources)?;
    let kind_described_row = sources.values().any(|tag| parse_tag(tag).is_some_and(|(k, _)| k == by.kind));
    let mut values = stored.to_vec();
    let mut revisions = Vec::new();
    let mut fields = Vec::new();
    for (i, col) in existing.cols.iter().enumerate().take(n) {
        if !differs(i) {
            continue;
        }
        let allowed = values[i].is_null()
            || match sources.get(*col).and_then(|k| parse_tag(k)) {
                None => true,
                Some((recorded, generation)) => {
                    (by.kind.precedence(), by.generation) > (recorded.precedence(), generation)
                }
            };
        if !allowed {
            continue;
        }
        if !values[i].is_null() || kind_described_row {
            revisions.push(Revised { field: col, old: values[i].to_text(), new: incoming[i].to_text() });
        }
        values[i] = incoming[i].clone();
        sources.insert((*col).to_string(), by.tag.clone());
        fields.push(*col);
    }
    Ok(if fields.is_empty() { Outcome::Unchanged } else { Outcome::Changed { values, sources, revisions, fields } })
}

/// What absorbing a placeholder event (known only by case number) into the
/// real event does to the real event's row: its unknown fields are filled from
/// the placeholder's, with the placeholder's provenance. The revisions of a
/// change are the fields filled (each from nothing).
pub(crate) fn absorb(into: Existing<'_>, from_values: &[Value], from_sources: &str) -> Result<Outcome> {
    let from_sources = parse_sources(into.table, from_sources)?;
    let mut sources = parse_sources(into.table, into.sources)?;
    let mut values = into.values.to_vec();
    let mut filled = Vec::new();
    for (i, col) in into.cols.iter().enumerate() {
        let (Some(mine), Some(theirs)) = (values.get(i), from_values.get(i)) else { break };
        if mine.is_null() && !theirs.is_null() {
            filled.push(Revised { field: col, old: None, new: theirs.to_text() });
            values[i] = theirs.clone();
            match from_sources.get(*col) {
                Some(k) => sources.insert((*col).to_string(), k.clone()),
                None => sources.remove(*col),
            };
        }
    }
    let fields = filled.iter().map(|r| r.field).collect();
    Ok(if filled.is_empty() {
        Outcome::Unchanged
    } else {
        Outcome::Changed { values, sources, revisions: filled, fields }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: &[&str] = &["a", "b"];

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn row<'a>(values: &'a [Value], sources: &'a str) -> Existing<'a> {
        Existing { table: "t", cols: COLS, values, sources }
    }

    fn changed(o: Outcome) -> (Vec<Value>, Sources, Vec<Revised>) {
        match o {
            Outcome::Changed { values, sources, revisions, fields } => {
                assert!(revisions.iter().all(|r| fields.contains(&r.field)), "a revision is a changed field");
                (values, sources, revisions)
            }
            Outcome::Unchanged => panic!("expected a change"),
        }
    }

    #[test]
    fn same_values_and_nulls_change_nothing() {
        let stored = [text("x"), Value::Int(1)];
        // Unparsable sources prove the fast path never reads them.
        let by = Precedence::new(SourceKind::Avall, 1);
        assert_eq!(decide(row(&stored, "not json"), &[text("x"), Value::Null], &by).unwrap(), Outcome::Unchanged);
        assert_eq!(decide(row(&stored, "not json"), &[Value::Null, Value::Int(1)], &by).unwrap(), Outcome::Unchanged);
    }

    #[test]
    fn an_unknown_value_is_filled_without_revision_by_a_new_kind() {
        let stored = [Value::Null, Value::Int(1)];
        let by = Precedence::new(SourceKind::Carol, 3);
        let (values, sources, revisions) =
            changed(decide(row(&stored, r#"{"b":"avall:1"}"#), &[text("y"), Value::Null], &by).unwrap());
        assert_eq!(values, vec![text("y"), Value::Int(1)]);
        assert_eq!(sources.get("a").map(String::as_str), Some(by.tag.as_str()));
        assert!(revisions.is_empty(), "a kind seen here first merges, it does not revise");
    }

    #[test]
    fn a_fill_by_a_kind_that_described_the_row_is_a_revision() {
        let stored = [Value::Null, Value::Int(1)];
        let by = Precedence::new(SourceKind::Avall, 2);
        let (_, _, revisions) =
            changed(decide(row(&stored, r#"{"b":"avall:1"}"#), &[text("cause"), Value::Null], &by).unwrap());
        assert_eq!(revisions, vec![Revised { field: "a", old: None, new: Some("cause".into()) }]);
    }

    #[test]
    fn precedence_then_generation_decide_overwrites() {
        let stored = [text("old"), Value::Int(1)];
        let sources = format!(r#"{{"a":"{}:5"}}"#, SourceKind::Avall.as_str());
        let existing = row(&stored, &sources);
        let incoming = [text("new"), Value::Null];
        // The same kind: an older or the same generation loses, a newer one wins.
        for (generation, wins) in [(4, false), (5, false), (6, true)] {
            let by = Precedence::new(SourceKind::Avall, generation);
            let outcome = decide(existing, &incoming, &by).unwrap();
            assert_eq!(outcome != Outcome::Unchanged, wins, "generation {generation}");
        }
        // Kinds ranked by precedence, whatever the generation.
        let (less, more) = if SourceKind::Carol.precedence() < SourceKind::Avall.precedence() {
            (SourceKind::Carol, SourceKind::Avall)
        } else {
            (SourceKind::Avall, SourceKind::Carol)
        };
        let sources = format!(r#"{{"a":"{}:5"}}"#, less.as_str());
        let (values, _, revisions) =
            changed(decide(row(&stored, &sources), &incoming, &Precedence::new(more, 1)).unwrap());
        assert_eq!(values[0], text("new"));
        assert_eq!(revisions, vec![Revised { field: "a", old: Some("old".into()), new: Some("new".into()) }]);
        let sources = format!(r#"{{"a":"{}:1"}}"#, more.as_str());
        assert_eq!(decide(row(&stored, &sources), &incoming, &Precedence::new(less, 99)).unwrap(), Outcome::Unchanged);
    }

    #[test]
    fn a_value_without_provenance_is_overwritten() {
        let stored = [text("old"), Value::Int(1)];
        let by = Precedence::new(SourceKind::Demo, 1);
        let (values, sources, _) = changed(decide(row(&stored, "{}"), &[text("new"), Value::Int(2)], &by).unwrap());
        assert_eq!(values, vec![text("new"), Value::Int(2)]);
        assert_eq!(sources.len(), 2);
    }

    #[test]
    fn bad_sources_are_corruption_naming_the_table() {
        let stored = [text("old"), Value::Int(1)];
        let err = decide(row(&stored, "[1]"), &[text("new"), Value::Null], &Precedence::new(SourceKind::Avall, 1));
        assert!(matches!(err, Err(Error::Corrupt(m)) if m.contains("t.field_sources")));
    }

    #[test]
    fn tags_parse_with_and_without_generation() {
        assert_eq!(parse_tag(&Precedence::new(SourceKind::Avall, 7).tag), Some((SourceKind::Avall, 7)));
        assert_eq!(parse_tag(SourceKind::Avall.as_str()), Some((SourceKind::Avall, 0)));
        assert_eq!(parse_tag("nonsense:1"), None);
    }

    #[test]
    fn absorbing_fills_only_unknown_fields_with_their_provenance() {
        let into = [Value::Null, Value::Int(1)];
        let (values, sources, filled) = changed(
            absorb(row(&into, r#"{"b":"avall:1"}"#), &[text("x"), Value::Int(9)], r#"{"a":"carol:2"}"#).unwrap(),
        );
        assert_eq!(values, vec![text("x"), Value::Int(1)]);
        assert_eq!(sources.get("a").map(String::as_str), Some("carol:2"));
        assert_eq!(filled, vec![Revised { field: "a", old: None, new: Some("x".into()) }]);
        assert_eq!(absorb(row(&into, "{}"), &[Value::Null, Value::Int(9)], "{}").unwrap(), Outcome::Unchanged);
    }
}
