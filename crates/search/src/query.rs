//! Turning whatever a user typed into a tantivy query, without ever failing.
//!
//! Natural text is words, never operators: `AND`, `OR`, `NOT`, `IN` and `TO` in a
//! sentence copied from an upper-case pre-2000 narrative are searched as the words
//! they are. Operators need an explicit syntax:
//!
//! - `"engine failure"`: a phrase (an unclosed quote is ignored);
//! - `-word`, `-"a phrase"`, `-probable_cause:icing`: exclude what matches;
//! - `+word`: require the word even when ranking partial matches;
//! - `narrative:word`, `probable_cause:"a phrase"`: only in that field;
//! - `ev_id:20080124X00101`, `ntsb_no:NYC08CA068`: that exact key;
//! - `year:2008`, `year:[2000 TO 2005]` (`{…}` excludes a bound, `*` leaves it open): a filter;
//! - `*` alone: every document.
//!
//! Anything else (`foo:bar`, `12:30`, parentheses, punctuation) is plain text that the
//! analyzer splits into words. Two forms are built from one parse ([`Parsed`]):
//! the *strict* query, which needs every word (for filters such as `/events?q=`),
//! and the *ranked* query, which needs at least one word and ranks the documents
//! that contain every word first ([`ALL_TERMS_BONUS`]), so a query whose words
//! cannot all match still returns its best partial matches.

use std::ops::Bound;

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;

use crate::schema::Fields;

/// Longest user query considered, in characters; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 1_000;

/// Most positive clauses (words, phrases, keys) a query uses; the rest are ignored.
const MAX_CLAUSES: usize = 64;

/// Weight of a probable-cause match relative to a narrative match: the probable
/// cause is a one-sentence summary, so a hit there says more about the event.
pub const PROBABLE_CAUSE_BOOST: f32 = 1.5;

/// Score added to a document that matches every positive clause of a ranked query,
/// so that it ranks above every partial match. BM25 sums of up to [`MAX_CLAUSES`]
/// terms stay far below it, and f32 keeps three decimals of the BM25 part at
/// this magnitude. Reported scores have it subtracted again.
pub(crate) const ALL_TERMS_BONUS: f32 = 10_000.0;

/// How a parsed query matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Matching {
    /// Every positive clause required: a filter.
    Strict,
    /// At least one positive clause; documents with all of them first.
    Ranked,
}

/// What a user's text asks for.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Words, phrases and keys that make a document relevant.
    positive: Vec<Box<dyn Query>>,
    /// Clauses required in every mode (`+word`).
    required: Vec<Box<dyn Query>>,
    /// Clauses that exclude a document (`-word`).
    excluded: Vec<Box<dyn Query>>,
    /// Year ranges (filters, unscored).
    years: Vec<(Bound<i64>, Bound<i64>)>,
    /// `*`: every document.
    all: bool,
}

impl Parsed {
    /// Whether the text asked for nothing searchable.
    pub(crate) fn is_empty(&self) -> bool {
        self.positive.is_empty()
            && self.required.is_empty()
            && self.excluded.is_empty()
            && self.years.is_empty()
            && !self.all
    }

    /// The query to execute, with extra year bounds (from the search options) as a filter.
    pub(crate) fn query(
        &self,
        matching: Matching,
        extra_years: Option<(Bound<i64>, Bound<i64>)>,
        fields: &Fields,
    ) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let positives = &self.positive;
        match (matching, positives.len()) {
            (_, 0) => {}
            (Matching::Strict, _) | (Matching::Ranked, 1) => {
                clauses.extend(positives.iter().map(|q| (Occur::Must, q.box_clone())));
            }
            (Matching::Ranked, _) => {
                let any = BooleanQuery::new(positives.iter().map(|q| (Occur::Should, q.box_clone())).collect());
                let every = BooleanQuery::new(positives.iter().map(|q| (Occur::Must, q.box_clone())).collect());
                clauses.push((Occur::Must, Box::new(any)));
                clauses.push((Occur::Should, Box::new(ConstScoreQuery::new(Box::new(every), ALL_TERMS_BONUS))));
            }
        }
        clauses.extend(self.required.iter().map(|q| (Occur::Must, q.box_clone())));
        for (lo, hi) in self.years.iter().cloned().chain(extra_years) {
            let term = |y: i64| Term::from_field_i64(fields.year, y);
            let range = RangeQuery::new(lo.map(term), hi.map(term));
            clauses.push((Occur::Must, Box::new(BoostQuery::new(Box::new(range), 0.0))));
        }
        if positives.is_empty() && self.required.is_empty() {
            // Only filters or exclusions (or `*`): everything they leave.
            clauses.push((Occur::Must, Box::new(BoostQuery::new(Box::new(AllQuery), 0.0))));
        }
        clauses.extend(self.excluded.iter().map(|q| (Occur::MustNot, q.box_clone())));
        Box::new(BooleanQuery::new(clauses))
    }

    /// The words and phrases to highlight in snippets.
    pub(crate) fn highlight(&self) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(
            self.positive.iter().chain(&self.required).map(|q| (Occur::Should, q.box_clone())).collect(),
        ))
    }
}

/// One piece of the user's text.
#[derive(Debug, PartialEq)]
enum Piece {
    Word(String),
    Phrase(String),
}

/// The sign in front of a piece.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sign {
    None,
    Plus,
    Minus,
}

/// Parses the user's text. Never fails: what is not syntax is text.
pub(crate) fn parse(analyzer: &TextAnalyzer, fields: &Fields, raw: &str) -> Parsed {
    let text: String = raw.chars().take(MAX_QUERY_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut out = Parsed::default();
    if text.trim() == "*" {
        out.all = true;
        return out;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut sign = Sign::None;
        if matches!(chars[i], '-' | '+')
            && chars.get(i + 1).is_some_and(|c| !c.is_whitespace() && !matches!(c, '-' | '+'))
        {
            sign = if chars[i] == '-' { Sign::Minus } else { Sign::Plus };
            i += 1;
        }
        // An optional known field prefix.
        let word_end = (i..chars.len()).find(|&j| chars[j].is_whitespace() || chars[j] == '"').unwrap_or(chars.len());
        let word: String = chars[i..word_end].iter().collect();
        let mut field = None;
        if let Some((name, _)) = word.split_once(':')
            && let Some(f) = FieldRef::named(name)
        {
            field = Some(f);
            i += name.chars().count() + 1;
        }
        // Year filter: `year:2008`, `year:[2000 TO 2005]`.
        if field == Some(FieldRef::Year) {
            if let Some((range, next)) = year_range(&chars, i) {
                if range == (Bound::Unbounded, Bound::Unbounded) {
                    // `year:[* TO *]`: every year, no filter at all.
                } else if sign == Sign::Minus {
                    let term = |y: i64| Term::from_field_i64(fields.year, y);
                    out.excluded.push(Box::new(RangeQuery::new(range.0.map(term), range.1.map(term))));
                } else {
                    out.years.push(range);
                }
                i = next;
                continue;
            }
            field = None; // not a year: the value is text
        }
        // The piece: a phrase, or a word up to whitespace or a quote.
        let (piece, next) = if chars.get(i) == Some(&'"') {
            match chars[i + 1..].iter().position(|&c| c == '"') {
                Some(len) => (Piece::Phrase(chars[i + 1..i + 1 + len].iter().collect()), i + len + 2),
                None => (Piece::Word(String::new()), i + 1), // unclosed quote: ignored
            }
        } else {
            let end = (i..chars.len()).find(|&j| chars[j].is_whitespace() || chars[j] == '"').unwrap_or(chars.len());
            (Piece::Word(chars[i..end].iter().collect()), end)
        };
        i = next.max(i + 1);
        let queries = piece_queries(analyzer, fields, field, &piece);
        for q in queries {
            match sign {
                Sign::Minus => out.excluded.push(q),
                Sign::Plus => out.required.push(q),
                Sign::None if out.positive.len() < MAX_CLAUSES => out.positive.push(q),
                Sign::None => {}
            }
        }
    }
    out
}

/// A field a user may name in the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldRef {
    Narrative,
    ProbableCause,
    EvId,
    NtsbNo,
    Year,
}

impl FieldRef {
    fn named(name: &str) -> Option<FieldRef> {
        Some(match name {
            "narrative" => FieldRef::Narrative,
            "probable_cause" => FieldRef::ProbableCause,
            "ev_id" => FieldRef::EvId,
            "ntsb_no" => FieldRef::NtsbNo,
            "year" => FieldRef::Year,
            _ => return None,
        })
    }
}

/// The lower and upper bound of a year range.
type YearBounds = (Bound<i64>, Bound<i64>);

/// Parses `2008`, `[2000 TO 2005]`, `{2000 TO *]` at `start`; the bounds and the
/// index after it.
fn year_range(chars: &[char], start: usize) -> Option<(YearBounds, usize)> {
    let open = *chars.get(start)?;
    if open == '[' || open == '{' {
        let close = (start + 1..chars.len()).find(|&j| matches!(chars[j], ']' | '}'))?;
        let inner: String = chars[start + 1..close].iter().collect();
        let mut parts = inner.split_whitespace();
        let (lo, to, hi) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !to.eq_ignore_ascii_case("to") {
            return None;
        }
        let bound = |s: &str, inclusive: bool| -> Option<Bound<i64>> {
            if s == "*" {
                return Some(Bound::Unbounded);
            }
            let y: i64 = s.parse().ok()?;
            Some(if inclusive { Bound::Included(y) } else { Bound::Excluded(y) })
        };
        let lo = bound(lo, open == '[')?;
        let hi = bound(hi, chars[close] == ']')?;
        return Some(((lo, hi), close + 1));
    }
    let end = (start..chars.len()).find(|&j| chars[j].is_whitespace()).unwrap_or(chars.len());
    let y: i64 = chars[start..end].iter().collect::<String>().parse().ok()?;
    Some(((Bound::Included(y), Bound::Included(y)), end))
}

/// The clauses of one piece: one per analysed word of a plain word (so
/// `pilot's` gives `pilot` and `s`), one per phrase, one per key.
fn piece_queries(
    analyzer: &TextAnalyzer,
    fields: &Fields,
    field: Option<FieldRef>,
    piece: &Piece,
) -> Vec<Box<dyn Query>> {
    let raw = match piece {
        Piece::Word(w) | Piece::Phrase(w) => w.trim(),
    };
    match field {
        Some(FieldRef::EvId | FieldRef::NtsbNo) => {
            if raw.is_empty() {
                return Vec::new();
            }
            let f = if field == Some(FieldRef::EvId) { fields.ev_id } else { fields.ntsb_no };
            let key = raw.to_ascii_uppercase();
            vec![Box::new(TermQuery::new(Term::from_field_text(f, &key), IndexRecordOption::Basic))]
        }
        _ => {
            let targets: &[(Field, f32)] = match field {
                Some(FieldRef::Narrative) => &[(fields.narrative, 1.0)],
                Some(FieldRef::ProbableCause) => &[(fields.probable_cause, PROBABLE_CAUSE_BOOST)],
                _ => &[(fields.narrative, 1.0), (fields.probable_cause, PROBABLE_CAUSE_BOOST)],
            };
            let tokens = analyse(analyzer, raw);
            match piece {
                Piece::Phrase(_) if tokens.len() > 1 => vec![either(targets, |f| {
                    let terms = tokens.iter().map(|t| Term::from_field_text(f, t)).collect();
                    Box::new(PhraseQuery::new(terms))
                })],
                _ => tokens
                    .iter()
                    .map(|t| {
                        either(targets, |f| {
                            Box::new(TermQuery::new(Term::from_field_text(f, t), IndexRecordOption::WithFreqs))
                        })
                    })
                    .collect(),
            }
        }
    }
}

/// A clause matching in any of the target fields, each with its boost.
fn either(targets: &[(Field, f32)], make: impl Fn(Field) -> Box<dyn Query>) -> Box<dyn Query> {
    let mut per_field: Vec<(Occur, Box<dyn Query>)> = targets
        .iter()
        .map(|&(f, boost)| {
            let q = make(f);
            let q: Box<dyn Query> = if boost == 1.0 { q } else { Box::new(BoostQuery::new(q, boost)) };
            (Occur::Should, q)
        })
        .collect();
    if per_field.len() == 1 {
        return per_field.pop().map(|(_, q)| q).unwrap_or_else(|| Box::new(BooleanQuery::new(Vec::new())));
    }
    Box::new(BooleanQuery::new(per_field))
}

/// The index terms of a text, in order, without duplicates next to each other.
fn analyse(analyzer: &TextAnalyzer, text: &str) -> Vec<String> {
    let mut analyzer = analyzer.clone();
    let mut out: Vec<String> = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_ranges_parse_with_open_and_exclusive_bounds() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(year_range(&chars("2008 x"), 0), Some(((Bound::Included(2008), Bound::Included(2008)), 4)));
        assert_eq!(year_range(&chars("[2000 TO 2005]"), 0), Some(((Bound::Included(2000), Bound::Included(2005)), 14)));
        assert_eq!(year_range(&chars("{2000 to *]"), 0), Some(((Bound::Excluded(2000), Bound::Unbounded), 11)));
        assert_eq!(year_range(&chars("[2000 TO"), 0), None);
        assert_eq!(year_range(&chars("abc"), 0), None);
        assert_eq!(year_range(&chars("[a TO b]"), 0), None);
    }
}
