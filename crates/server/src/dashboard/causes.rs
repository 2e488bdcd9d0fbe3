//! `/causes`: the most cited findings (as cause or as factor), the most
//! frequent occurrences (CICTT), with how often each was the defining event,
//! and the phase × occurrence heat map (events with each of the most frequent
//! occurrences in each phase of flight).

use axum::extract::{RawQuery, State};
use maud::html;

use super::charts::{Bar, Cell, Table, bars, figure, heat_map};
use super::layout::{Page, active_filters, downloads, filter_form, respond, shell};
use super::query::PageQuery;
use crate::error::ApiError;
use ntsb_model::vocab::Phase;

use crate::routes::stats::{findings_of, occurrences_of, phase_occurrences_of};
use crate::state::AppState;

/// Rows of each ranking.
const TOP: usize = 25;

/// Occurrences (rows) of the heat map.
pub(crate) const HEAT_ROWS: usize = 15;

/// A phase's name for people (`go_around` → `go around`).
fn phase_name(phase: &str) -> String {
    phase.replace('_', " ")
}

pub(crate) async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Page, ApiError> {
    let q = PageQuery::parse(raw.as_deref())?;
    let filter = q.filter(&state).await?;
    let (findings, occurrences, heat) = tokio::try_join!(
        findings_of(&state, filter.clone(), TOP),
        occurrences_of(&state, filter.clone(), TOP),
        phase_occurrences_of(&state, filter.clone(), HEAT_ROWS)
    )?;
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
    // The heat map's columns: the phases that occur, in flight order.
    let phases: Vec<&str> = Phase::ALL
        .iter()
        .map(|p| p.as_str())
        .filter(|p| heat.cells.iter().any(|c| c.phase == *p))
        .chain(
            // A phase the vocabulary does not know (none today) is still shown, last.
            heat.cells.iter().map(|c| c.phase.as_str()).filter(|p| Phase::from_canonical(p).is_none()),
        )
        .fold(Vec::new(), |mut seen, p| {
            if !seen.contains(&p) {
                seen.push(p);
            }
            seen
        });
    let heat_t = Table {
        id: "phase-occurrences",
        caption: "Events per occurrence and phase of flight".into(),
        columns: vec!["occurrence", "phase", "events", "events with the occurrence (any phase)"],
        rows: heat
            .cells
            .iter()
            .map(|c| {
                let total = heat.occurrences.iter().find(|t| t.occurrence == c.occurrence).map_or(0, |t| t.events);
                vec![
                    Cell::Text(c.occurrence.clone()),
                    Cell::Text(phase_name(&c.phase)),
                    Cell::Int(c.events),
                    Cell::Int(total),
                ]
            })
            .collect(),
    };
    let tables = [&findings_t, &occurrences_t, &heat_t];
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
            section aria-labelledby="heat-title" {
                h2 id="heat-title" { "Occurrences by phase of flight" }
                p { "Events with each of the " (HEAT_ROWS) " most frequent occurrences (by meaning, whatever the phase) in each phase of flight; darker cells hold more events. An event with the occurrence in two phases counts in both." }
                @if heat.occurrences.is_empty() {
                    p { "No occurrence is recorded for these events." }
                } @else {
                    @let rows: Vec<String> = heat.occurrences.iter().map(|t| t.occurrence.clone()).collect();
                    @let cols: Vec<String> = phases.iter().map(|p| phase_name(p)).collect();
                    @let value = |r: usize, c: usize| heat.cells.iter().find(|x| x.occurrence == rows[r] && x.phase == phases[c]).map_or(0, |x| x.events);
                    (figure("Occurrences by phase of flight", heat_map("chart-phase-occurrences", "Events per occurrence (rows) and phase of flight (columns), darker for more", &rows, &cols, value), &heat_t, &q.csv_href("/causes", "phase-occurrences")))
                }
            }
            (downloads(&q, "/causes", &tables))
        };
        shell("Causes", "/causes", main)
    })
}
