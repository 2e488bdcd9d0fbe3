//! `/causes`: the most cited findings (as cause or as factor) and the most
//! frequent occurrences (CICTT), with how often each was the defining event.

use axum::extract::{RawQuery, State};
use maud::html;

use super::charts::{Bar, Cell, Table, bars, figure};
use super::layout::{Page, active_filters, downloads, filter_form, respond, shell};
use super::query::PageQuery;
use crate::error::ApiError;
use crate::routes::stats::{findings_of, occurrences_of};
use crate::state::AppState;

/// Rows of each ranking.
const TOP: usize = 25;

pub(crate) async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Page, ApiError> {
    let q = PageQuery::parse(raw.as_deref())?;
    let filter = q.filter(&state).await?;
    let (findings, occurrences) =
        tokio::try_join!(findings_of(&state, filter.clone(), TOP), occurrences_of(&state, filter.clone(), TOP))?;
    let describe = |code: &str, text: &Option<String>| match text {
        Some(t) if !t.trim().is_empty() => t.clone(),
        _ => code.to_string(),
    };
    let findings_t = Table {
        id: "findings",
        caption: "Most cited findings".into(),
        columns: vec!["finding", "code", "events", "cited as cause", "cause share"],
        rows: findings
            .iter()
            .map(|f| {
                vec![
                    Cell::Text(describe(&f.code, &f.description)),
                    Cell::Text(f.code.clone()),
                    Cell::Int(f.events),
                    Cell::Int(f.cited_as_cause),
                    Cell::Rate(f.cause_share),
                ]
            })
            .collect(),
    };
    let occurrences_t = Table {
        id: "occurrences",
        caption: "Most frequent occurrences".into(),
        columns: vec!["occurrence", "code", "events", "defining event"],
        rows: occurrences
            .iter()
            .map(|o| {
                vec![
                    Cell::Text(describe(&o.code, &o.meaning)),
                    Cell::Text(o.code.clone()),
                    Cell::Int(o.events),
                    Cell::Int(o.defining),
                ]
            })
            .collect(),
    };
    let tables = [&findings_t, &occurrences_t];
    respond(&q, "causes", &tables, || {
        let finding_bars: Vec<Bar> = findings
            .iter()
            .map(|f| Bar {
                label: describe(&f.code, &f.description),
                value: f.events,
                part: Some(f.cited_as_cause),
                href: None,
            })
            .collect();
        let occurrence_bars: Vec<Bar> = occurrences
            .iter()
            .map(|o| Bar { label: describe(&o.code, &o.meaning), value: o.events, part: Some(o.defining), href: None })
            .collect();
        let main = html! {
            h1 { "Causes" }
            (active_filters(&q, "/causes"))
            (filter_form(&q, "/causes", &[]))
            section aria-labelledby="findings-title" {
                h2 id="findings-title" { "Findings" }
                p { "Events citing each finding; the red part cites it as a cause rather than a factor." }
                (figure("Most cited findings", bars("chart-findings", "Most cited findings: events, cited as cause in red", &finding_bars), &findings_t, &q.csv_href("/causes", "findings")))
            }
            section aria-labelledby="occurrences-title" {
                h2 id="occurrences-title" { "Occurrences" }
                p { "Events with each occurrence; the red part is where it was the defining event." }
                (figure("Most frequent occurrences", bars("chart-occurrences", "Most frequent occurrences: events, defining event in red", &occurrence_bars), &occurrences_t, &q.csv_href("/causes", "occurrences")))
            }
            (downloads(&q, "/causes", &tables))
        };
        shell("Causes", "/causes", main)
    })
}
