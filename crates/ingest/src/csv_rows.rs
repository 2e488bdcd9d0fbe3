//! Shared CSV plumbing: case-insensitive column lookup, line numbers, and typed
//! field parsing that turns bad values into rejects naming the field.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};

use ntsb_model::SourceKind;
use ntsb_model::normalize;
use ntsb_model::records::{Record, Reject, SourcedRecord};

use crate::error::{Error, Result};
use crate::{Item, RecordStream};

/// Header of a CSV file, looked up without regard to case, dots or underscores,
/// since column-name case and punctuation vary between NTSB releases
/// (`Aircraft.Damage` vs `Aircraft.damage`, `ev_id` vs `EV_ID`).
#[derive(Debug, Clone)]
pub struct Header {
    index: HashMap<String, usize>,
    names: Vec<String>,
}

/// Folds a column name for lookup: lower case, without `.`, `_`, spaces and a BOM.
pub fn fold_column(name: &str) -> String {
    name.trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, '.' | '_' | ' ' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

impl Header {
    /// Builds a header from column names.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(names: I) -> Self {
        let names: Vec<String> =
            names.into_iter().map(|s| s.as_ref().trim_start_matches('\u{feff}').trim().to_string()).collect();
        let mut index = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            index.entry(fold_column(n)).or_insert(i);
        }
        Header { index, names }
    }

    /// Position of a column, any case.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.index.get(&fold_column(name)).copied()
    }

    /// Whether every listed column is present.
    pub fn has_all(&self, names: &[&str]) -> bool {
        names.iter().all(|n| self.find(n).is_some())
    }

    /// Column names as written.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// One CSV row with its line number and the file it came from, with typed getters
/// that record the first bad field so the caller can reject the row.
pub struct Row<'a> {
    /// The raw record.
    pub record: &'a csv::StringRecord,
    /// Header of the file.
    pub header: &'a Header,
    /// File name for rejects.
    pub file: &'a str,
    /// 1-based line of the row in the file.
    pub line: u64,
    /// Table the row is for, for rejects.
    pub table: &'a str,
    /// First problem found, if any.
    pub problem: Option<(String, String)>,
}

impl<'a> Row<'a> {
    /// Raw text of a column, `""` when absent.
    pub fn raw(&self, column: &str) -> &'a str {
        self.header.find(column).and_then(|i| self.record.get(i)).unwrap_or("")
    }

    /// Trimmed non-empty text of a column.
    pub fn text(&self, column: &str) -> Option<String> {
        normalize::non_empty(self.raw(column))
    }

    /// Integer column; a non-numeric value is noted as the row's problem.
    pub fn int(&mut self, column: &str) -> Option<i64> {
        match normalize::integer(self.raw(column)) {
            Ok(v) => v,
            Err(_) => {
                self.note(column, format!("{:?} is not a whole number", self.raw(column)));
                None
            }
        }
    }

    /// Required integer column (a key): missing or bad is the row's problem.
    pub fn required_int(&mut self, column: &str) -> i64 {
        match self.int(column) {
            Some(v) => v,
            None => {
                self.note(column, "is required".to_string());
                0
            }
        }
    }

    /// Decimal column; a non-numeric value is noted as the row's problem.
    pub fn real(&mut self, column: &str) -> Option<f64> {
        match normalize::real(self.raw(column)) {
            Ok(v) => v,
            Err(_) => {
                self.note(column, format!("{:?} is not a number", self.raw(column)));
                None
            }
        }
    }

    /// Date column as ISO text; an unparseable non-empty value is the row's problem.
    pub fn date(&mut self, column: &str) -> Option<String> {
        let raw = self.raw(column);
        if raw.trim().is_empty() {
            return None;
        }
        // Dates are ASCII; checking first also keeps non-ASCII text away from
        // `normalize::parse_date`, which slices by byte index.
        let d = if raw.is_ascii() { normalize::iso_date(raw) } else { None };
        if d.is_none() {
            self.note(column, format!("{raw:?} is not a date"));
        }
        d
    }

    /// Required NTSB event id: missing or malformed is the row's problem.
    pub fn ev_id(&mut self, column: &str) -> String {
        let raw = self.raw(column).trim();
        if !normalize::is_ev_id(raw) {
            let why =
                if raw.is_empty() { "is required".to_string() } else { format!("{raw:?} is not an NTSB event id") };
            self.note(column, why);
        }
        raw.to_string()
    }

    /// Required NTSB event id in either shape NTSB has used: `20080124X00101`
    /// (to 2020) or the all-digit `20200928102039` (since late 2020). Missing or
    /// malformed is the row's problem. Prefer this over [`Row::ev_id`] for tables
    /// that run past 2020.
    pub fn event_id(&mut self, column: &str) -> String {
        let raw = self.raw(column).trim();
        if !is_event_id(raw) {
            let why =
                if raw.is_empty() { "is required".to_string() } else { format!("{raw:?} is not an NTSB event id") };
            self.note(column, why);
        }
        raw.to_string()
    }

    /// Notes a problem with a field; only the first one is kept.
    pub fn note(&mut self, column: &str, reason: String) {
        if self.problem.is_none() {
            self.problem = Some((column.to_string(), reason));
        }
    }

    /// What the row yields: its records, each with the row's line, or, when a
    /// problem was noted, the one reject that replaces them all.
    pub fn into_items(self, records: Vec<Record>) -> impl Iterator<Item = Item> {
        let reject = self.reject();
        let records = if reject.is_some() { Vec::new() } else { records };
        let line = self.line;
        reject
            .map(Item::Reject)
            .into_iter()
            .chain(records.into_iter().map(move |record| Item::Record(SourcedRecord { line, record })))
    }

    /// The reject for this row, if a problem was noted.
    pub fn reject(&self) -> Option<Reject> {
        self.problem.as_ref().map(|(field, reason)| Reject {
            file: self.file.to_string(),
            line: self.line,
            field: Some(field.clone()),
            reason: format!("{field} {reason}"),
            table: Some(self.table.to_string()),
        })
    }
}

/// Whether text is an NTSB event id, in either of its shapes (see
/// [`normalize::is_ev_id`]).
pub fn is_event_id(s: &str) -> bool {
    normalize::is_ev_id(s)
}

/// Opens a CSV reader over any byte stream with NTSB-friendly settings:
/// flexible row lengths (rows are checked by the readers), RFC 4180 quoting.
pub fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(input)
}

/// Reads the header of a CSV reader.
pub fn read_header<R: Read>(reader: &mut csv::Reader<R>, path: &Path) -> Result<Header> {
    let h = reader.headers().map_err(|e| Error::malformed(path, format!("cannot read the header: {e}")))?;
    Ok(Header::new(h.iter()))
}

/// Turns a CSV error on one row into a reject (bad UTF-8, unbalanced quotes) or a
/// fatal error (I/O).
pub fn row_error(err: csv::Error, file: &str, table: &str, path: &Path) -> std::result::Result<Reject, Error> {
    let line = err.position().map(|p| p.line()).unwrap_or(0);
    match err.kind() {
        csv::ErrorKind::Io(_) => Err(Error::malformed(path, format!("read failed: {err}"))),
        _ => Ok(Reject {
            file: file.to_string(),
            line,
            field: None,
            reason: format!("unreadable CSV row: {err}"),
            table: Some(table.to_string()),
        }),
    }
}

/// A [`RecordStream`] over a CSV file: reads rows one at a time, hands each to
/// `map` (which returns the records the row holds, noting problems on the
/// [`Row`]), and yields the records, or one reject for a row with a problem.
pub struct CsvStream<R: Read, F> {
    reader: csv::Reader<LineCounter<R>>,
    header: Header,
    file: String,
    table: &'static str,
    path: PathBuf,
    kind: SourceKind,
    map: F,
    pending: VecDeque<Item>,
    record: csv::StringRecord,
    done: bool,
}

impl<R: Read, F> CsvStream<R, F>
where
    F: FnMut(&mut Row) -> Vec<Record>,
{
    /// Starts a stream over `input`; `required` columns must be in the header.
    pub fn new(
        input: R,
        path: &Path,
        file: String,
        table: &'static str,
        kind: SourceKind,
        required: &[&str],
        map: F,
    ) -> Result<Self> {
        let mut reader = csv_reader(LineCounter::new(input));
        let header = read_header(&mut reader, path)?;
        let missing: Vec<&str> = required.iter().copied().filter(|c| header.find(c).is_none()).collect();
        if !missing.is_empty() {
            return Err(Error::malformed(path, format!("missing required column(s): {}", missing.join(", "))));
        }
        Ok(CsvStream {
            reader,
            header,
            file,
            table,
            path: path.to_path_buf(),
            kind,
            map,
            pending: VecDeque::new(),
            record: csv::StringRecord::new(),
            done: false,
        })
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// 1-based line the record just read starts on. The csv crate's own record
    /// position is one line early after blank lines and on every CRLF file (CAROL
    /// exports), so the line is found from where the record ends instead: the
    /// line of its last byte, less the line breaks inside its fields.
    ///
    /// A record whose last field ends in a line break that is also its last byte
    /// (an unclosed quote running to the end of the file) counts that break as
    /// part of the field, not as the record's terminator.
    fn record_line(&mut self) -> u64 {
        let end = self.reader.position().byte();
        let counter = self.reader.get_mut();
        let before_last = counter.line_of(end.saturating_sub(1));
        let inside: u64 = self.record.iter().map(|f| f.bytes().filter(|b| *b == b'\n').count() as u64).sum();
        let last_field_breaks = self.record.iter().next_back().is_some_and(|f| f.ends_with('\n'));
        let last = if last_field_breaks { counter.line_of(end).max(before_last) } else { before_last };
        last.saturating_sub(inside).max(1)
    }
}

/// A reader that notes where line feeds are in what passes through it, so a byte
/// offset can be turned into a line number. It keeps only the offsets not yet
/// asked about (those in the parser's read-ahead), so memory stays constant.
pub struct LineCounter<R> {
    inner: R,
    read: u64,
    passed: u64,
    pending: VecDeque<u64>,
}

impl<R: Read> LineCounter<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        LineCounter { inner, read: 0, passed: 0, pending: VecDeque::new() }
    }

    /// 1-based line of the byte at `offset`. Offsets must not decrease between calls.
    pub fn line_of(&mut self, offset: u64) -> u64 {
        while self.pending.front().is_some_and(|&nl| nl < offset) {
            self.pending.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let start = self.read;
        self.pending.extend(buf[..n].iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| start + i as u64));
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: Read, F> Iterator for CsvStream<R, F>
where
    F: FnMut(&mut Row) -> Vec<Record>,
{
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            if self.done {
                return None;
            }
            match self.reader.read_record(&mut self.record) {
                Ok(false) => self.done = true,
                Ok(true) => {
                    let line = self.record_line();
                    if self.record.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    let mut row = Row {
                        record: &self.record,
                        header: &self.header,
                        file: &self.file,
                        line,
                        table: self.table,
                        problem: None,
                    };
                    let records = (self.map)(&mut row);
                    self.pending.extend(row.into_items(records));
                }
                Err(err) => match row_error(err, &self.file, self.table, &self.path) {
                    Ok(reject) => self.pending.push_back(Item::Reject(reject)),
                    Err(fatal) => {
                        self.done = true;
                        return Some(Err(fatal));
                    }
                },
            }
        }
    }
}

impl<R: Read, F> RecordStream for CsvStream<R, F>
where
    F: FnMut(&mut Row) -> Vec<Record>,
{
    fn kind(&self) -> SourceKind {
        self.kind
    }

    fn bytes_read(&self) -> Option<u64> {
        Some(self.reader.position().byte())
    }
}

/// Display name of a file for rejects and messages: the path as given.
pub fn file_label(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_survive_blank_lines_crlf_and_multiline_fields() {
        let data = "h1,h2\r\n\r\nb,c\r\nd,\"e\r\nf\"\r\n\ng,h\ni,\"j\n";
        let path = Path::new("t.csv");
        let stream =
            CsvStream::new(data.as_bytes(), path, "t.csv".into(), "t", SourceKind::Avall, &[], |row: &mut Row<'_>| {
                vec![Record::IdLink(ntsb_model::records::IdLinkRecord {
                    ev_id: row.raw("h1").to_string(),
                    ntsb_no: row.line.to_string(),
                    event_date: None,
                })]
            });
        let mut lines = Vec::new();
        for item in stream.expect("header") {
            if let Ok(Item::Record(SourcedRecord { line, record: Record::IdLink(r) })) = item {
                lines.push((r.ev_id, line));
            }
        }
        assert_eq!(lines, vec![("b".to_string(), 3), ("d".to_string(), 4), ("g".to_string(), 7), ("i".to_string(), 8)]);
    }

    #[test]
    fn header_lookup_ignores_case_and_punctuation() {
        let h = Header::new(["\u{feff}Event.Id", "Aircraft.damage", "Broad.phase.of.flight"]);
        assert_eq!(h.find("event.id"), Some(0));
        assert_eq!(h.find("Aircraft.Damage"), Some(1));
        assert_eq!(h.find("BROAD_PHASE_OF_FLIGHT"), Some(2));
        assert!(h.has_all(&["Event.Id", "Aircraft.Damage"]));
        assert!(!h.has_all(&["Event.Id", "Make"]));
    }
}
