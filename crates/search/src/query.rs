//! Turning whatever a user typed into a tantivy query, without ever failing.
//!
//! The query language is tantivy's (terms, `"phrases"`, `AND`/`OR`/`NOT`, `+`/`-`,
//! `field:value`, `year:[2000 TO 2005]`), with every term required by default.
//! User text is first made safe ([`sanitize`]): length capped, control characters
//! dropped, unbalanced quotes/parentheses/brackets neutralised, unknown `field:`
//! prefixes turned into plain words. It is then parsed leniently; if the parser
//! still reports a problem (or, defensively, panics) the text is searched as a
//! plain bag of words instead ([`words_query`]).

use std::panic::{AssertUnwindSafe, catch_unwind};

use tantivy::Term;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::TextAnalyzer;

use crate::schema::{Fields, QUERYABLE_FIELDS};

/// Longest user query considered, in characters; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 1_000;

/// Most words the bag-of-words fallback uses.
const MAX_FALLBACK_WORDS: usize = 64;

/// Weight of a probable-cause match relative to a narrative match: the probable
/// cause is a one-sentence summary, so a hit there says more about the event.
pub const PROBABLE_CAUSE_BOOST: f32 = 1.5;

/// Makes user text safe for tantivy's parser. Returns an empty string when
/// nothing searchable is left.
pub(crate) fn sanitize(raw: &str) -> String {
    let mut s: String = raw.chars().take(MAX_QUERY_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if s.matches('"').count() % 2 == 1 {
        s = s.replace('"', " ");
    }
    if !balanced(&s, '(', ')') {
        s = s.replace(['(', ')'], " ");
    }
    if !balanced_ranges(&s) {
        s = s.replace(['[', ']', '{', '}'], " ");
    }
    s = neutralise_unknown_fields(&s);
    s.trim().to_string()
}

/// Whether `open`/`close` nest properly (never more closes than opens so far,
/// as many of each in total).
fn balanced(s: &str, open: char, close: char) -> bool {
    let mut depth: i64 = 0;
    for c in s.chars() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth < 0 {
                return false;
            }
        }
    }
    depth == 0
}

/// Range brackets may mix (`[2000 TO 2005}`), so only their overall nesting counts.
fn balanced_ranges(s: &str) -> bool {
    let mut depth: i64 = 0;
    for c in s.chars() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// Replaces every `:` that does not follow one of [`QUERYABLE_FIELDS`] by a space,
/// so `foo:bar` searches the words `foo bar` and `12:30` the numbers.
fn neutralise_unknown_fields(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == ':' {
            let ident_start = out
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
                .last()
                .map(|(i, _)| i);
            let known = ident_start.is_some_and(|i| {
                let ident = &out[i..];
                let boundary = out[..i].chars().last().is_none_or(|p| !(p.is_alphanumeric() || p == '_'));
                boundary && QUERYABLE_FIELDS.contains(&ident)
            });
            out.push(if known { ':' } else { ' ' });
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses sanitized text; falls back to [`words_query`] on any parser complaint.
pub(crate) fn parse(
    parser: &QueryParser,
    analyzer: &TextAnalyzer,
    fields: &Fields,
    text: &str,
) -> Option<Box<dyn Query>> {
    let parsed = catch_unwind(AssertUnwindSafe(|| parser.parse_query_lenient(text)));
    match parsed {
        Ok((query, errors)) if errors.is_empty() => Some(query),
        _ => words_query(analyzer, fields, text),
    }
}

/// Every word of the text required, each matching narrative or (boosted)
/// probable cause. Query-language operators are dropped. `None` when the text
/// has no words.
pub(crate) fn words_query(analyzer: &TextAnalyzer, fields: &Fields, text: &str) -> Option<Box<dyn Query>> {
    let mut analyzer = analyzer.clone();
    let mut terms: Vec<String> = Vec::new();
    for word in text.split_whitespace().filter(|w| !matches!(*w, "AND" | "OR" | "NOT" | "IN" | "TO")) {
        let mut stream = analyzer.token_stream(word);
        while let Some(token) = stream.next() {
            if !terms.contains(&token.text) {
                terms.push(token.text.clone());
            }
        }
        if terms.len() >= MAX_FALLBACK_WORDS {
            break;
        }
    }
    if terms.is_empty() {
        return None;
    }
    let clauses: Vec<(Occur, Box<dyn Query>)> = terms
        .iter()
        .take(MAX_FALLBACK_WORDS)
        .map(|t| {
            let narrative: Box<dyn Query> =
                Box::new(TermQuery::new(Term::from_field_text(fields.narrative, t), IndexRecordOption::WithFreqs));
            let cause: Box<dyn Query> = Box::new(BoostQuery::new(
                Box::new(TermQuery::new(Term::from_field_text(fields.probable_cause, t), IndexRecordOption::WithFreqs)),
                PROBABLE_CAUSE_BOOST,
            ));
            let either: Box<dyn Query> =
                Box::new(BooleanQuery::new(vec![(Occur::Should, narrative), (Occur::Should, cause)]));
            (Occur::Must, either)
        })
        .collect();
    Some(Box::new(BooleanQuery::new(clauses)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_neutralises_what_the_parser_cannot_take() {
        assert_eq!(sanitize("\"engine failure"), "engine failure");
        assert_eq!(sanitize("\"engine failure\""), "\"engine failure\"");
        assert_eq!(sanitize("((("), "");
        assert_eq!(sanitize("(a OR b)"), "(a OR b)");
        assert_eq!(sanitize("foo:bar"), "foo bar");
        assert_eq!(sanitize("probable_cause:icing"), "probable_cause:icing");
        assert_eq!(sanitize("xprobable_cause:icing"), "xprobable_cause icing");
        assert_eq!(sanitize("year:[2000 TO 2005]"), "year:[2000 TO 2005]");
        assert_eq!(sanitize("year:[2000 TO"), "year: 2000 TO");
        assert_eq!(sanitize("a\u{0}b"), "a b");
        assert_eq!(sanitize(&"a ".repeat(10_000)).chars().count(), MAX_QUERY_CHARS - 1);
        assert_eq!(sanitize("12:30"), "12 30");
        assert_eq!(sanitize("é:x"), "é x");
    }
}
