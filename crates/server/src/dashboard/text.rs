//! Values from the data, made safe to show: escaped by maud, with control and
//! bidirectional-override characters replaced so that a hostile narrative can
//! neither break the markup nor reorder what a reader sees.

use std::fmt::Write;

use maud::{Escaper, Markup, Render, html};

/// A value from the data, rendered as text.
pub(crate) struct Text<'a>(pub &'a str);

/// Characters never shown as they are: C0 and C1 controls (but tab and line
/// breaks), bidirectional embeddings, overrides and isolates, and the
/// zero-width marks that can hide text. Each becomes U+FFFD.
fn hidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `s` with every [`hidden`] character replaced by U+FFFD.
pub(crate) fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(hidden) {
        std::borrow::Cow::Owned(s.chars().map(|c| if hidden(c) { '\u{FFFD}' } else { c }).collect())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

impl Render for Text<'_> {
    fn render_to(&self, buffer: &mut String) {
        let _ = Escaper::new(buffer).write_str(&clean(self.0));
    }
}

/// An optional value, or an en dash.
pub(crate) fn opt(v: Option<&str>) -> Markup {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => html! { (Text(v)) },
        None => html! { span.none aria-label="not recorded" { "–" } },
    }
}

/// A search snippet: the index escapes the text and marks matches with
/// `<mark>`; the marks are kept and the text is decoded and escaped again here,
/// so nothing the index returns is trusted as markup.
pub(crate) fn snippet(escaped: &str) -> Markup {
    let mut parts = Vec::new();
    let mut rest = escaped;
    while let Some(start) = rest.find("<mark>") {
        let after = &rest[start + "<mark>".len()..];
        let Some(end) = after.find("</mark>") else { break };
        parts.push((unescape(&rest[..start]), false));
        parts.push((unescape(&after[..end]), true));
        rest = &after[end + "</mark>".len()..];
    }
    parts.push((unescape(rest), false));
    html! {
        @for (text, marked) in &parts {
            @if *marked { mark { (Text(text)) } } @else { (Text(text)) }
        }
    }
}

/// Undoes the search index's escaping (`&lt;`, `&gt;`, `&quot;`, `&#x27;`, `&amp;`).
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#x27;", "'").replace("&amp;", "&")
}

/// `n` with thousands separators (`12,345`).
pub(crate) fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share as a percentage with one decimal (`12.3%`).
pub(crate) fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A number shown with its exact value for machines: `<data value="1234">1,234</data>`.
pub(crate) fn figure(n: u64) -> Markup {
    html! { data value=(n) { (int(n)) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_escaped_and_controls_replaced() {
        let shown = html! { p { (Text("<script>alert(1)</script>\"><img src=x onerror=alert(1)>\u{202E}\u{7}ok")) } }
            .into_string();
        assert_eq!(
            shown,
            "<p>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\u{FFFD}\u{FFFD}ok</p>"
        );
    }

    #[test]
    fn snippets_keep_only_their_marks() {
        let s = snippet("engine &lt;b&gt; <mark>failure</mark> &amp; <mark>fire").into_string();
        assert_eq!(s, "engine &lt;b&gt; <mark>failure</mark> &amp; &lt;mark&gt;fire");
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1,000");
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(pct(0.1234), "12.3%");
    }
}
