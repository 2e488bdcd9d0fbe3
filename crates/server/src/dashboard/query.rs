//! A page's query string: the API's event filter parameters (the same types,
//! see [`crate::params`]) plus the page's own, kept in the URL so a
//! view can be bookmarked, shared and walked with back and forward.
//!
//! A filter form submitted without JavaScript sends every field, the empty
//! ones too; an empty value here means "no filter" (the API refuses it, since a
//! program should say nothing instead).

use ntsb_model::query::EventFilter;
use ntsb_model::vocab::Vocabulary;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::params::values::{FilterText, OneOf};
use crate::params::{
    FilterQuery, NoParams, QueryPart, TextQuery, checked_pairs, filter_parameter_names, names_of, part_of,
};
use crate::routes::events::filter_of;
use crate::state::AppState;

/// What a page answers: the page itself, or one of its tables as CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Html,
    Csv,
}

impl Vocabulary for Format {
    const ALL: &'static [Format] = &[Format::Html, Format::Csv];

    fn canonical(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Csv => "csv",
        }
    }
}

/// A plain name for the OpenAPI derive (see [`crate::params::filter`]).
type FormatValue = OneOf<Format>;

/// Parameters every page accepts besides the filters: `format=csv` with
/// `table=ID` downloads one of the page's tables.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ViewQuery {
    /// `html` (default) or `csv`.
    #[param(inline)]
    format: Option<FormatValue>,
    /// The table a CSV download holds (default: the page's first).
    #[param(inline)]
    table: Option<FilterText>,
}

/// The parsed query of one page request.
#[derive(Debug, Clone)]
pub(crate) struct PageQuery {
    filter: FilterQuery,
    text: TextQuery,
    view: ViewQuery,
    /// The non-empty filter parameters as given, in the order the filters are documented.
    pub filters: Vec<(String, String)>,
    /// The non-empty page parameters as given (kept across filter changes).
    pub extras: Vec<(String, String)>,
}

impl PageQuery {
    /// Parses `raw`: the filters and `format`/`table`, nothing else.
    pub fn parse(raw: Option<&str>) -> Result<PageQuery, ApiError> {
        Self::parse_with::<NoParams>(raw).map(|(query, _)| query)
    }

    /// Parses `raw`: the filters, `format`/`table` and the page's own parameters `E`.
    pub fn parse_with<E: QueryPart>(raw: Option<&str>) -> Result<(PageQuery, E), ApiError> {
        Self::parse_inner(raw, &[])
    }

    /// Parses `raw`: the filters, `format`/`table`, and parameters named in
    /// `extra` kept as given (a comparison's second filter set, which
    /// [`PageQuery::second`] parses as filters).
    pub fn parse_extra(raw: Option<&str>, extra: &[&str]) -> Result<PageQuery, ApiError> {
        Self::parse_inner::<NoParams>(raw, extra).map(|(query, _)| query)
    }

    fn parse_inner<E: QueryPart>(raw: Option<&str>, extra: &[&str]) -> Result<(PageQuery, E), ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut given = form_urlencoded::Serializer::new(String::new());
        given.extend_pairs(&pairs);
        let given = given.finish();
        let filter_names = filter_parameter_names();
        let (view_names, own_names) = (names_of::<ViewQuery>(), names_of::<E>());
        let pairs = checked_pairs(Some(&given), &[&filter_names, view_names, own_names, extra])?;
        let of = |names: &[&str]| -> Vec<(&str, &str)> {
            pairs.iter().filter(|(k, _)| names.contains(&k.as_str())).map(|(k, v)| (k.as_str(), v.as_str())).collect()
        };
        let filter_pairs = of(&filter_names);
        let text_pairs: Vec<_> = filter_pairs.iter().copied().filter(|(k, _)| *k == "q").collect();
        let structured: Vec<_> = filter_pairs.iter().copied().filter(|(k, _)| *k != "q").collect();
        let query = PageQuery {
            filter: part_of(&structured)?,
            text: part_of(&text_pairs)?,
            view: part_of(&of(view_names))?,
            filters: filter_names
                .iter()
                .filter_map(|name| pairs.iter().find(|(k, _)| k == name))
                .map(|(k, v)| (k.clone(), v.trim().to_string()))
                .collect(),
            extras: pairs
                .iter()
                .filter(|(k, _)| own_names.contains(&k.as_str()) || extra.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.trim().to_string()))
                .collect(),
        };
        // Validate the filter now, so a bad value is reported before any work.
        query.filter.to_filter()?;
        let own = part_of(&of(own_names))?;
        Ok((query, own))
    }

    /// The value of a filter or page parameter, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.filters.iter().chain(&self.extras).find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The event filter, with `q` resolved through the search index as the API does.
    pub async fn filter(&self, state: &AppState) -> Result<EventFilter, ApiError> {
        filter_of(state, &self.filter, &self.text).await
    }

    /// The filter without `q` (for search, which ranks by `q` itself).
    pub fn structured_filter(&self) -> Result<EventFilter, ApiError> {
        self.filter.to_filter()
    }

    /// The words of `q`, if any.
    pub fn words(&self) -> Option<&str> {
        self.text.words()
    }

    /// Whether the CSV of table `ID` was asked for: `Some(ID)` (the first table when none is named).
    pub fn csv_table(&self) -> Result<Option<Option<String>>, ApiError> {
        Ok(match self.view.format.map(OneOf::get) {
            None | Some(Format::Html) => None,
            Some(Format::Csv) => Some(self.view.table.clone().map(FilterText::into_string)),
        })
    }

    /// A link to `path` with this page's filters and the given extra parameters.
    pub fn href(&self, path: &str, extra: &[(&str, &str)]) -> String {
        let pairs = self.filters.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(extra.iter().copied());
        with_query(path, &encode(pairs))
    }

    /// A link to this page's own view with `name` set to `value` (or removed when `None`),
    /// filters and the page's other parameters kept.
    pub fn with(&self, path: &str, name: &str, value: Option<&str>) -> String {
        let pairs = self
            .filters
            .iter()
            .chain(&self.extras)
            .filter(|(k, _)| k != name)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(value.map(|v| (name, v)));
        with_query(path, &encode(pairs))
    }
}

/// Prefix of the second filter set of a comparison (`/trends?far_part=91&b.far_part=135`):
/// the API's filter names behind `b.`, so both sets stay in one bookmarkable URL.
pub(crate) const SECOND: &str = "b.";

/// The names of the second filter set (`b.from`, `b.to`, …).
pub(crate) fn second_names() -> &'static [String] {
    static NAMES: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| filter_parameter_names().iter().map(|n| format!("{SECOND}{n}")).collect());
    &NAMES
}

impl PageQuery {
    /// The second filter set of a comparison (the `b.` parameters of this query,
    /// kept among its extras), parsed and validated as a query of its own; a bad
    /// value is reported under its `b.` name.
    pub fn second(&self) -> Result<PageQuery, ApiError> {
        let pairs = self
            .extras
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(SECOND).map(|k| (k, v.as_str())))
            .filter(|(k, _)| filter_parameter_names().contains(k));
        PageQuery::parse(Some(&encode(pairs))).map_err(|e| match e {
            ApiError::InvalidParameter { parameter, reason } => {
                ApiError::InvalidParameter { parameter: format!("{SECOND}{parameter}"), reason }
            }
            other => other,
        })
    }

    /// A link to `path` with this page's parameters, except those named by `drop`.
    pub fn without(&self, path: &str, drop: impl Fn(&str) -> bool) -> String {
        let pairs =
            self.filters.iter().chain(&self.extras).filter(|(k, _)| !drop(k)).map(|(k, v)| (k.as_str(), v.as_str()));
        with_query(path, &encode(pairs))
    }
}

impl PageQuery {
    /// The link that downloads table `table` of the page at `path` as CSV, for this view.
    pub fn csv_href(&self, path: &str, table: &str) -> String {
        let pairs = self
            .filters
            .iter()
            .chain(&self.extras)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain([("format", "csv"), ("table", table)]);
        with_query(path, &encode(pairs))
    }
}

/// Percent-encodes pairs as a query string.
pub(crate) fn encode<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// Percent-encodes one path segment (an event id in `/events/{ev_id}`).
pub(crate) fn encode_path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path?query`, or `path` alone when the query is empty.
pub(crate) fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() { path.to_string() } else { format!("{path}?{query}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page parameter, as the aircraft page has.
    #[derive(Debug, Deserialize, IntoParams)]
    #[serde(deny_unknown_fields)]
    struct MinCount {
        min_count: Option<crate::fields::Bounded<1, 1000>>,
    }

    #[test]
    fn empty_form_fields_mean_no_filter_and_links_keep_the_rest() {
        let (q, own) = PageQuery::parse_with::<MinCount>(Some("state=ca&make=&year=2010&min_count=5&q=%20")).unwrap();
        assert_eq!(own.min_count.map(|m| m.get()), Some(5));
        assert_eq!(q.href("/", &[]), "/?year=2010&state=ca");
        assert_eq!(q.href("/map", &[]), "/map?year=2010&state=ca");
        assert_eq!(q.with("/aircraft", "min_count", Some("10")), "/aircraft?year=2010&state=ca&min_count=10");
        assert_eq!(q.with("/aircraft", "state", None), "/aircraft?year=2010&min_count=5");
        assert_eq!(q.structured_filter().unwrap().state.as_deref(), Some("CA"));
    }

    #[test]
    fn the_second_filter_set_is_its_own_query_and_travels_with_the_first() {
        let names: Vec<&str> = second_names().iter().map(String::as_str).chain(["compare"]).collect();
        let q = PageQuery::parse_extra(Some("far_part=91&b.far_part=135&b.state=tx&compare=on"), &names).unwrap();
        assert!(q.structured_filter().unwrap().far_part.is_some());
        let b = q.second().unwrap();
        assert_eq!(
            b.filters,
            vec![("state".to_string(), "tx".to_string()), ("far_part".to_string(), "135".to_string())]
        );
        assert_eq!(b.structured_filter().unwrap().state.as_deref(), Some("TX"));
        // Removing a filter of the first set keeps the second.
        assert_eq!(q.with("/trends", "far_part", None), "/trends?b.far_part=135&b.state=tx&compare=on");
        assert_eq!(q.without("/trends", |k| k.starts_with(SECOND) || k == "compare"), "/trends?far_part=91");
        let bad = PageQuery::parse_extra(Some("b.year=soon"), &names).unwrap().second().unwrap_err();
        match bad {
            ApiError::InvalidParameter { parameter, .. } => assert_eq!(parameter, "b.year"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_values_and_unknown_parameters_are_refused_by_name() {
        for (raw, name) in [("stat=CA", "stat"), ("year=nineteen", "year"), ("format=pdf", "format")] {
            let err = PageQuery::parse(Some(raw)).and_then(|q| q.csv_table().map(|_| q)).unwrap_err();
            match err {
                ApiError::InvalidParameter { parameter, .. } => assert_eq!(parameter, name, "{raw}"),
                other => panic!("{raw}: {other:?}"),
            }
        }
    }
}
