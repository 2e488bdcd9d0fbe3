//! Reader for the ev_id ↔ NTSB case number crosswalk
//! (`ev_id, ntsb_no, event_date, sources`): one [`IdLinkRecord`] per row, used to
//! match sources that carry only one of the two identifiers.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use ntsb_model::SourceKind;
use ntsb_model::records::{IdLinkRecord, Record};

use crate::csv_rows::{CsvStream, Row, file_label};
use crate::{Error, RecordStream, Result};

/// Opens the crosswalk CSV.
pub fn open(path: &Path) -> Result<Box<dyn RecordStream>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let input = BufReader::with_capacity(1 << 16, file);
    let stream =
        CsvStream::new(input, path, file_label(path), "event_keys", SourceKind::Crosswalk, &["ev_id", "ntsb_no"], map)?;
    Ok(Box::new(stream))
}

fn map(row: &mut Row) -> Vec<Record> {
    let ev_id = row.event_id("ev_id");
    let ntsb_no = match row.text("ntsb_no") {
        Some(n) => n.to_ascii_uppercase(),
        None => {
            row.note("ntsb_no", "is required".into());
            String::new()
        }
    };
    let event_date = row.date("event_date");
    vec![Record::IdLink(IdLinkRecord { ev_id, ntsb_no, event_date })]
}
