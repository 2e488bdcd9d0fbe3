//! Short, HTML-safe excerpts of a hit with the matched words in `<mark>`.
//!
//! The excerpt comes from the narrative when a query term occurs there, else from
//! the probable cause, else (queries such as `*` or a pure `year:` range) it is the
//! start of the narrative without highlighting.

use tantivy::Searcher;
use tantivy::query::Query;
use tantivy::schema::Field;
use tantivy::snippet::SnippetGenerator;

/// Target length of a snippet, in characters.
pub const SNIPPET_CHARS: usize = 200;

/// Snippet generators for one query, built once per search.
pub(crate) struct Snippets {
    narrative: Option<SnippetGenerator>,
    probable_cause: Option<SnippetGenerator>,
}

impl Snippets {
    /// Prepares generators for the query's terms in both text fields. A field whose
    /// generator cannot be built just gets no highlighting.
    pub(crate) fn new(searcher: &Searcher, query: &dyn Query, narrative: Field, probable_cause: Field) -> Self {
        let make = |field| {
            SnippetGenerator::create(searcher, query, field).ok().map(|mut g| {
                g.set_max_num_chars(SNIPPET_CHARS);
                g
            })
        };
        Snippets { narrative: make(narrative), probable_cause: make(probable_cause) }
    }

    /// The best excerpt of a document, as HTML.
    pub(crate) fn excerpt(&self, narrative: &str, probable_cause: &str) -> String {
        for (generator, text) in [(&self.narrative, narrative), (&self.probable_cause, probable_cause)] {
            if let Some(g) = generator {
                let mut snippet = g.snippet(text);
                if !snippet.highlighted().is_empty() {
                    snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
                    return snippet.to_html();
                }
            }
        }
        let lead = if narrative.trim().is_empty() { probable_cause } else { narrative };
        escape_html(&leading_text(lead, SNIPPET_CHARS))
    }
}

/// An HTML-escaped excerpt of the start of a text ([`SNIPPET_CHARS`] characters,
/// cut at a word): the snippet of a hit that no query word highlights (dense retrieval).
pub fn excerpt(text: &str) -> String {
    escape_html(&leading_text(text, SNIPPET_CHARS))
}

/// The first `max_chars` characters of `text`, cut at a word boundary when one is
/// near, with `…` when something was cut.
pub(crate) fn leading_text(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    let Some((cut, _)) = text.char_indices().nth(max_chars) else {
        return text.to_string();
    };
    let head = &text[..cut];
    let head = match head.rfind(char::is_whitespace) {
        Some(i) if i > cut / 2 => &head[..i],
        _ => head,
    };
    format!("{}…", head.trim_end())
}

/// Escapes the characters that matter in HTML text and attributes.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_text_cuts_at_words_and_escapes() {
        assert_eq!(leading_text("short", 10), "short");
        assert_eq!(leading_text("one two three four", 10), "one two…");
        assert_eq!(leading_text("ééééééééééé", 3), "ééé…");
        assert_eq!(escape_html("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#x27;");
    }
}
