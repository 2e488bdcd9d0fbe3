//! Reader for the probable cause / findings / safety recommendations text export
//! (`NtsbNo, ProbableCause, Findings, Event.Id, narratives.narr_cause,
//! safetyrecs….Recommendation`). Each row gives the event's text as a
//! [`NarrativeRecord`] and, when present, its recommendation text.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use ntsb_model::SourceKind;
use ntsb_model::normalize;
use ntsb_model::records::{EventRef, NarrativeRecord, RecommendationRecord, Record};

use crate::csv_rows::{CsvStream, Header, Row, file_label, is_event_id};
use crate::{Error, RecordStream, Result};

/// Opens the export. The recommendation column's name carries an export
/// timestamp (`safetyrecs2026-02-28_15-34.Recommendation`), so it is found by
/// prefix and suffix.
pub fn open(path: &Path) -> Result<Box<dyn RecordStream>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let input = BufReader::with_capacity(1 << 16, file);
    let mut rec_column: Option<String> = None;
    let map = move |row: &mut Row| -> Vec<Record> {
        let col = rec_column.get_or_insert_with(|| recommendation_column(row.header).unwrap_or_default());
        map_row(row, col)
    };
    let stream = CsvStream::new(input, path, file_label(path), "narratives", SourceKind::SafetyRecs, &["NtsbNo"], map)?;
    Ok(Box::new(stream))
}

/// The column holding recommendation text, if any.
pub fn recommendation_column(header: &Header) -> Option<String> {
    header
        .names()
        .iter()
        .find(|n| {
            let l = n.to_ascii_lowercase();
            l.starts_with("safetyrecs") && l.ends_with("recommendation")
        })
        .cloned()
}

fn map_row(row: &mut Row, rec_column: &str) -> Vec<Record> {
    let ev_raw = row.raw("Event.Id").trim();
    let event = if is_event_id(ev_raw) {
        EventRef::EvId(ev_raw.to_string())
    } else if !ev_raw.is_empty() {
        row.note("Event.Id", format!("{ev_raw:?} is not an NTSB event id"));
        return Vec::new();
    } else {
        match row.text("NtsbNo") {
            Some(n) => EventRef::NtsbNo(normalize::base_ntsb_no(&n)),
            None => {
                row.note("NtsbNo", "is required when Event.Id is empty".into());
                return Vec::new();
            }
        }
    };
    let probable_cause = row.text("ProbableCause").or_else(|| row.text("narratives.narr_cause"));
    let findings_text = row.text("Findings");
    let mut out = Vec::new();
    if probable_cause.is_some() || findings_text.is_some() {
        out.push(Record::Narrative(NarrativeRecord {
            event: event.clone(),
            aircraft_key: 0,
            probable_cause,
            findings_text,
            ..Default::default()
        }));
    }
    let recommendation = if rec_column.is_empty() { None } else { row.text(rec_column) };
    if let Some(text) = recommendation {
        out.push(Record::Recommendation(RecommendationRecord { event, rec_no: 1, recommendation: Some(text) }));
    }
    if out.is_empty() {
        // An id with no text at all (a row cut short, say) would otherwise vanish
        // without a trace; the real export has no such row.
        row.note("ProbableCause", "the row holds no probable cause, findings or recommendation".into());
    }
    out
}
