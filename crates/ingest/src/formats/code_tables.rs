//! Readers for NTSB's code tables and data dictionary: every code with its
//! meaning, as [`CodeRecord`]s keyed by (table of codes, code, NTSB table,
//! NTSB column). Values are trimmed: the real files pad names with spaces.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use ntsb_model::SourceKind;
use ntsb_model::records::{CodeRecord, Record};

use crate::CodeTableKind;
use crate::csv_rows::{CsvStream, Row, file_label};
use crate::{Error, RecordStream, Result};

type MapFn = fn(&mut Row) -> Vec<Record>;

/// Opens a code table of the given kind.
pub fn open(path: &Path, kind: CodeTableKind) -> Result<Box<dyn RecordStream>> {
    let (required, map): (&[&str], MapFn) = match kind {
        CodeTableKind::DataDictionary => (&["Table", "Column", "code_iaids"], map_dictionary),
        CodeTableKind::CtSeqevt => (&["code", "meaning"], map_seqevt),
        CodeTableKind::CtIaids => (&["ct_name", "code_iaids", "meaning"], map_iaids),
        CodeTableKind::States => (&["state", "name"], map_states),
        CodeTableKind::Country => (&["COUNTRY_CODE", "COUNTRY_NAME"], map_country),
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let input = BufReader::with_capacity(1 << 16, file);
    let stream = CsvStream::new(input, path, file_label(path), "code_entries", SourceKind::CodeTables, required, map)?;
    Ok(Box::new(stream))
}

fn trimmed(row: &Row, column: &str) -> String {
    row.raw(column).trim().to_string()
}

fn code(ct_name: String, code: String, meaning: Option<String>) -> Vec<Record> {
    vec![Record::Code(CodeRecord { ct_name, code, meaning, ..Default::default() })]
}

/// A code column that must not be empty in a plain code table.
fn required_code(row: &mut Row, column: &str) -> String {
    let c = trimmed(row, column);
    if c.is_empty() {
        row.note(column, "is required".into());
    }
    c
}

/// Dictionary rows with a code describe that code; rows without one describe
/// the column itself and are kept with code `""` (meaning falls back to the
/// question definition) so column descriptions are stored too.
fn map_dictionary(row: &mut Row) -> Vec<Record> {
    let code = trimmed(row, "code_iaids");
    let mut meaning = row.text("meaning");
    if code.is_empty() && meaning.is_none() {
        meaning = row.text("Question_Def");
    }
    vec![Record::Code(CodeRecord {
        ct_name: trimmed(row, "ct_name"),
        code,
        table_name: trimmed(row, "Table"),
        column_name: trimmed(row, "Column"),
        meaning,
        short_desc: row.text("short_desc"),
    })]
}

fn map_seqevt(row: &mut Row) -> Vec<Record> {
    let c = required_code(row, "code");
    code("ct_seqevt".into(), c, row.text("meaning"))
}

/// `ct_iaids` keeps blank codes (`ct_dow` has `""` = "Not Specified") and a
/// blank table name (the real file has one): both are real entries.
fn map_iaids(row: &mut Row) -> Vec<Record> {
    code(trimmed(row, "ct_name"), trimmed(row, "code_iaids"), row.text("meaning"))
}

fn map_states(row: &mut Row) -> Vec<Record> {
    let c = required_code(row, "state");
    code("states".into(), c, row.text("name"))
}

fn map_country(row: &mut Row) -> Vec<Record> {
    let c = required_code(row, "COUNTRY_CODE");
    code("country".into(), c, row.text("COUNTRY_NAME"))
}
