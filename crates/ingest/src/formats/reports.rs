//! Reader for full report text documents through their index
//! (`reports_index.csv`: file, ev_id, ntsb_no, event_date, report_type, chars,
//! has_rti_narrative, source). Each index row loads the text file it names
//! (relative to the index's directory), one document at a time, as a
//! [`ReportRecord`]. A missing or unreadable document rejects its row.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use ntsb_model::SourceKind;
use ntsb_model::normalize;
use ntsb_model::records::{EventRef, Record, ReportRecord};

use crate::csv_rows::{CsvStream, Row, file_label, is_event_id};
use crate::{Error, RecordStream, Result};

/// Largest document read; anything bigger is not a report text.
const MAX_DOCUMENT: u64 = 64 << 20;

/// Opens a reports index.
pub fn open(path: &Path) -> Result<Box<dyn RecordStream>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let input = BufReader::with_capacity(1 << 16, file);
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let map = move |row: &mut Row| -> Vec<Record> { map_row(row, &base) };
    let stream = CsvStream::new(input, path, file_label(path), "reports", SourceKind::Reports, &["file"], map)?;
    Ok(Box::new(stream))
}

fn map_row(row: &mut Row, base: &Path) -> Vec<Record> {
    let Some(document) = row.text("file") else {
        row.note("file", "is required".into());
        return Vec::new();
    };
    let ev_raw = row.raw("ev_id").trim();
    let event = if is_event_id(ev_raw) {
        EventRef::EvId(ev_raw.to_string())
    } else if let Some(no) = row.text("ntsb_no") {
        EventRef::NtsbNo(normalize::base_ntsb_no(&no))
    } else {
        let why = if ev_raw.is_empty() {
            "is required when ntsb_no is empty".to_string()
        } else {
            format!("{ev_raw:?} is not an NTSB event id")
        };
        row.note("ev_id", why);
        return Vec::new();
    };
    let text = match read_document(base, &document) {
        Ok(t) => t,
        Err(why) => {
            row.note("file", why);
            return Vec::new();
        }
    };
    vec![Record::Report(ReportRecord {
        event,
        document,
        report_type: row.text("report_type"),
        text: normalize::non_empty(&text),
    })]
}

/// Reads one document named relative to the index; the error is a sentence for
/// the reject.
fn read_document(base: &Path, name: &str) -> std::result::Result<String, String> {
    let relative = Path::new(name);
    if relative.is_absolute() {
        return Err(format!("{name:?} must be a path relative to the index"));
    }
    let full: PathBuf = base.join(relative);
    let file = File::open(&full).map_err(|e| format!("document {} cannot be read: {e}", full.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_DOCUMENT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("document {} cannot be read: {e}", full.display()))?;
    if bytes.len() as u64 > MAX_DOCUMENT {
        return Err(format!("document {} is larger than {MAX_DOCUMENT} bytes", full.display()));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
