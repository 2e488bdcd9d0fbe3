//! Reader for NTSB CAROL case exports, as CSV ([`open_csv`]) or as a JSON array of
//! case objects ([`open_json`]).
//!
//! Both shapes carry the same fields, so a JSON object is turned into the same
//! [`Row`] a CSV line gives (keys become the header) and one mapping, [`map_case`],
//! serves both. CAROL's `EventID` is empty in every export seen, so cases are
//! identified by NTSB number: children refer to their event by `EventRef::NtsbNo`
//! unless a valid event id is present.
//!
//! CAROL puts the values of several aircraft comma-joined in one cell (`N#` =
//! `"N510HM, N269AA"`, FAR = `"091, 135"`). The number of aircraft comes from the
//! registration cell; each per-aircraft cell that splits into exactly that many
//! parts gives aircraft *i* its *i*-th part, any other cell (an operator name such as
//! `"Ultra Air, LLC"`) goes whole to every aircraft.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use ntsb_model::SourceKind;
use ntsb_model::normalize;
use ntsb_model::records::{AircraftRecord, EventRecord, EventRef, NarrativeRecord, Record, Reject};
use ntsb_model::vocab::{Damage, EventType, InjuryLevel, Phase, Weather, far_part};

use crate::csv_rows::{CsvStream, Header, Row, file_label};
use crate::formats::aviation_data::{category_code, check_width, coordinates};
use crate::{Error, Item, RecordStream, Result};

use json_array::{ArraySplitter, Piece};

/// Table named in rejects: a CAROL row is first of all an event.
const TABLE: &str = "events";

/// Columns that hold one value per aircraft, comma-joined for multi-aircraft cases.
const PER_AIRCRAFT: &[&str] = &[
    "N#",
    "N",
    "SerialNumber",
    "Make",
    "Model",
    "AirCraftCategory",
    "AmateurBuilt",
    "NumberOfEngines",
    "EngineType",
    "Scheduled",
    "PurposeOfFlight",
    "FAR",
    "AirCraftDamage",
    "Operator",
    "BroadPhaseofFlight",
];

/// Opens a CAROL CSV export (either the 44-column "cases" layout with `N#` or the
/// 37-column download layout with `N`).
pub fn open_csv(path: &Path) -> Result<Box<dyn RecordStream>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let stream = CsvStream::new(
        BufReader::new(file),
        path,
        file_label(path),
        TABLE,
        SourceKind::Carol,
        &["NtsbNo"],
        |row: &mut Row<'_>| {
            check_width(row);
            map_case(row)
        },
    )?;
    Ok(Box::new(stream))
}

/// Opens a CAROL JSON export: a top-level array of case objects, read one element
/// at a time so memory does not grow with the file. An element that is not a valid
/// object is rejected with its 1-based element number as `line`; a structurally
/// broken array (truncated, garbage between elements) ends the stream after a
/// reject for the broken element.
pub fn open_json(path: &Path) -> Result<Box<dyn RecordStream>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut elements = ArraySplitter::new(BufReader::new(file));
    if !elements.start().map_err(|e| Error::io(path, e))? {
        return Err(Error::malformed(path, "not a JSON array (expected '[')"));
    }
    Ok(Box::new(JsonCases {
        elements,
        path: path.to_path_buf(),
        file: file_label(path),
        header: None,
        pending: VecDeque::new(),
        done: false,
    }))
}

/// Stream of records from a CAROL JSON array.
struct JsonCases {
    elements: ArraySplitter<BufReader<File>>,
    path: PathBuf,
    file: String,
    /// Header built from the last object's keys, reused while the keys repeat.
    header: Option<(Vec<String>, Header)>,
    pending: VecDeque<Item>,
    done: bool,
}

impl JsonCases {
    fn reject(&self, line: u64, reason: String) -> Item {
        Item::Reject(Reject { file: self.file.clone(), line, field: None, reason, table: Some(TABLE.to_string()) })
    }

    /// Maps one element's bytes to records or a reject.
    fn element(&mut self, line: u64, bytes: &[u8]) {
        let object = match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(other) => {
                let what = json_kind(&other);
                let item = self.reject(line, format!("array element {line} is {what}, not an object"));
                self.pending.push_back(item);
                return;
            }
            Err(e) => {
                let item = self.reject(line, format!("array element {line} is not valid JSON: {e}"));
                self.pending.push_back(item);
                return;
            }
        };
        let (keys, values): (Vec<String>, Vec<String>) = object.into_iter().map(|(k, v)| (k, json_text(v))).unzip();
        if self.header.as_ref().is_none_or(|(cached, _)| *cached != keys) {
            let header = Header::new(&keys);
            self.header = Some((keys, header));
        }
        let Some((_, header)) = &self.header else { return };
        let record = csv::StringRecord::from(values);
        let mut row = Row { record: &record, header, file: &self.file, line, table: TABLE, problem: None };
        let records = map_case(&mut row);
        self.pending.extend(row.into_items(records));
    }
}

impl Iterator for JsonCases {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            if self.done {
                return None;
            }
            match self.elements.next_piece() {
                Ok(None) => self.done = true,
                Ok(Some(Piece { line, body: Ok(bytes) })) => self.element(line, &bytes),
                Ok(Some(Piece { line, body: Err(reason) })) => {
                    let item = self.reject(line, reason);
                    self.pending.push_back(item);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::io(&self.path, e)));
                }
            }
        }
    }
}

impl RecordStream for JsonCases {
    fn kind(&self) -> SourceKind {
        SourceKind::Carol
    }
}

/// A JSON value as the text a CSV cell would hold: strings as they are, numbers as
/// written, booleans `true`/`false`, null empty, nested values as compact JSON.
fn json_text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s,
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Records of one CAROL case: the event, one aircraft per aircraft named, and the
/// probable cause and findings text when there is any. Bad fields are noted on
/// the row (which then becomes a reject).
pub fn map_case(row: &mut Row<'_>) -> Vec<Record> {
    let ntsb_raw = row.text("NtsbNo");
    if ntsb_raw.is_none() {
        row.note("NtsbNo", "is required".to_string());
    }
    let ntsb_no = ntsb_raw.as_deref().map(normalize::base_ntsb_no).unwrap_or_default();
    let ev_id = row.text("EventID").filter(|id| normalize::is_ev_id(id));
    let event_ref = match &ev_id {
        Some(id) => EventRef::EvId(id.clone()),
        None => EventRef::NtsbNo(ntsb_no.clone()),
    };
    let cells = AircraftCells::of(row);
    let mut records = vec![Record::Event(event(row, ev_id, ntsb_no, &cells))];
    for i in 0..cells.count {
        let aircraft = aircraft(row, &cells, i, &event_ref, ntsb_raw.clone());
        records.push(Record::Aircraft(aircraft));
    }
    let probable_cause = row.text("ProbableCause");
    let findings_text = row.text("Findings");
    if probable_cause.is_some() || findings_text.is_some() {
        records.push(Record::Narrative(NarrativeRecord {
            event: event_ref,
            aircraft_key: 0,
            probable_cause,
            findings_text,
            ..Default::default()
        }));
    }
    records
}

/// The event of a case.
fn event(row: &mut Row<'_>, ev_id: Option<String>, ntsb_no: String, cells: &AircraftCells) -> EventRecord {
    let country = row.text("Country");
    let in_us = country.as_deref().is_some_and(normalize::is_united_states);
    let (latitude, longitude) = coordinates(row, "Latitude", "Longitude");
    let (fatal, serious, minor) =
        (row.int("FatalInjuryCount"), row.int("SeriousInjuryCount"), row.int("MinorInjuryCount"));
    let injury_raw = row.text("HighestInjuryLevel");
    let stated = injury_raw.as_deref().and_then(InjuryLevel::parse);
    let highest = stated.or_else(|| InjuryLevel::from_counts(fatal, serious, minor, None));
    let weather_raw = row.text("WeatherCondition");
    let published = if row.header.find("OriginalPublishedDate").is_some() {
        "OriginalPublishedDate"
    } else {
        "OriginalPublishDate"
    };
    EventRecord {
        ev_id,
        ntsb_no: Some(ntsb_no).filter(|n| !n.is_empty()),
        event_type: EventType::parse(row.raw("EventType")).map(|t| t.as_str().to_string()),
        event_date: row.date("EventDate"),
        event_time: normalize::time_of_day(row.raw("EventDate")),
        city: row.text("City"),
        state: if in_us { normalize::state_code(row.raw("State")) } else { None },
        country,
        latitude,
        longitude,
        airport_code: row.text("AirportID"),
        airport_name: row.text("AirportName"),
        highest_injury: highest.map(|l| l.as_str().to_string()),
        highest_injury_raw: injury_raw,
        inj_fatal: fatal,
        inj_serious: serious,
        inj_minor: minor,
        weather: weather_raw.as_deref().and_then(Weather::parse).map(|w| w.as_str().to_string()),
        weather_raw,
        phase: Phase::parse(cells.part(row, "BroadPhaseofFlight", 0)).map(|p| p.as_str().to_string()),
        report_status: row.text("ReportStatus"),
        publication_date: row.date(published),
        carol_mkey: row.int("Mkey"),
        has_safety_rec: normalize::yes_no(row.raw("HasSafetyRec")),
        docket_url: row.text("DocketUrl"),
        report_url: row.text("ReportUrl"),
        ..Default::default()
    }
}

/// Aircraft `i` (0-based) of a case.
fn aircraft(
    row: &mut Row<'_>,
    cells: &AircraftCells,
    i: usize,
    event: &EventRef,
    ntsb_no: Option<String>,
) -> AircraftRecord {
    let engines = cells.part(row, "NumberOfEngines", i);
    let num_engines = match normalize::integer(engines) {
        Ok(n) => n,
        Err(_) => {
            row.note("NumberOfEngines", format!("{engines:?} is not a whole number"));
            None
        }
    };
    let text = |column: &str| normalize::non_empty(cells.part(row, column, i));
    let make_raw = text("Make");
    let category_raw = text("AirCraftCategory");
    let far_raw = text("FAR");
    let damage_raw = text("AirCraftDamage");
    let phase_raw = text("BroadPhaseofFlight");
    AircraftRecord {
        event: event.clone(),
        aircraft_key: i as i64 + 1,
        ntsb_no,
        registration: text(cells.registration),
        serial_no: text("SerialNumber"),
        make: make_raw.as_deref().and_then(normalize::make_name),
        make_raw,
        model: text("Model"),
        category: category_raw.as_deref().and_then(category_code).map(str::to_string),
        category_raw,
        amateur_built: normalize::yes_no(cells.part(row, "AmateurBuilt", i)),
        num_engines,
        engine_type: text("EngineType"),
        far_part: far_raw.as_deref().and_then(far_part),
        far_part_raw: far_raw,
        schedule: text("Scheduled"),
        purpose: text("PurposeOfFlight"),
        operator: text("Operator"),
        damage: damage_raw.as_deref().and_then(Damage::parse).map(|d| d.as_str().to_string()),
        damage_raw,
        phase: phase_raw.as_deref().and_then(Phase::parse).map(|p| p.as_str().to_string()),
        phase_raw,
    }
}

/// How the per-aircraft cells of one row divide among its aircraft.
struct AircraftCells {
    /// The registration column (`N#` in the cases export, `N` in the download).
    registration: &'static str,
    /// Number of aircraft in the case.
    count: usize,
}

impl AircraftCells {
    /// The aircraft count: parts of the registration cell, or, when it is empty,
    /// the most parts any other per-aircraft cell splits into (operator names,
    /// which often contain commas, excepted); 0 when every such cell is empty.
    fn of(row: &Row<'_>) -> Self {
        let registration = if row.header.find("N#").is_some() { "N#" } else { "N" };
        let reg = row.raw(registration).trim();
        let count = if reg.is_empty() {
            PER_AIRCRAFT
                .iter()
                .filter(|c| !matches!(**c, "N#" | "N" | "Operator"))
                .map(|c| row.raw(c).trim())
                .filter(|cell| !cell.is_empty())
                .map(|cell| cell.split(", ").count())
                .max()
                .unwrap_or(0)
        } else {
            reg.split(", ").count()
        };
        let count = if count == 0 && !row.raw("Operator").trim().is_empty() { 1 } else { count };
        AircraftCells { registration, count }
    }

    /// Aircraft `i`'s value of `column`: its part when the cell splits into exactly
    /// one part per aircraft, otherwise the whole cell.
    fn part<'a>(&self, row: &Row<'a>, column: &str, i: usize) -> &'a str {
        let cell = row.raw(column);
        if self.count > 1 && cell.split(", ").count() == self.count {
            cell.split(", ").nth(i).unwrap_or(cell).trim()
        } else {
            cell.trim()
        }
    }
}

/// Cuts a top-level JSON array into its elements without parsing them, so each can
/// be parsed on its own and memory stays bounded by the largest element.
mod json_array {
    use std::io::{self, Read};

    /// Elements larger than this are refused and end the stream: no CAROL case comes
    /// close, and a runaway string in a broken file must not take all memory.
    const MAX_ELEMENT: usize = 64 << 20;

    /// One element: its 1-based number and its bytes, or why it is broken.
    pub(super) struct Piece {
        /// Element number, used as the reject's `line`.
        pub line: u64,
        /// The element's text, or the reason it could not be cut out.
        pub body: Result<Vec<u8>, String>,
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        /// Before an element: after `[` or `,`.
        Before,
        /// After an element: expecting `,` or `]`.
        After,
        /// The closing `]` was read.
        Closed,
        /// Nothing more to read.
        Done,
    }

    /// Byte-level state machine over a JSON array: tracks nesting depth, strings
    /// and escapes, and hands out one top-level element at a time.
    pub(super) struct ArraySplitter<R> {
        input: R,
        buf: Box<[u8]>,
        pos: usize,
        len: usize,
        state: State,
        count: u64,
    }

    impl<R: Read> ArraySplitter<R> {
        pub(super) fn new(input: R) -> Self {
            ArraySplitter {
                input,
                buf: vec![0; 1 << 16].into_boxed_slice(),
                pos: 0,
                len: 0,
                state: State::Done,
                count: 0,
            }
        }

        fn byte(&mut self) -> io::Result<Option<u8>> {
            if self.pos == self.len {
                self.len = loop {
                    match self.input.read(&mut self.buf) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                };
                self.pos = 0;
                if self.len == 0 {
                    return Ok(None);
                }
            }
            let b = self.buf[self.pos];
            self.pos += 1;
            Ok(Some(b))
        }

        /// The next byte that is not white space (nor part of a UTF-8 BOM).
        fn significant(&mut self) -> io::Result<Option<u8>> {
            while let Some(b) = self.byte()? {
                if !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0xEF | 0xBB | 0xBF) {
                    return Ok(Some(b));
                }
            }
            Ok(None)
        }

        /// Reads up to the opening `[`; false when the input is not a JSON array.
        pub(super) fn start(&mut self) -> io::Result<bool> {
            let open = self.significant()? == Some(b'[');
            self.state = if open { State::Before } else { State::Done };
            Ok(open)
        }

        fn broken(&mut self, reason: String) -> Option<Piece> {
            self.state = State::Done;
            Some(Piece { line: self.count + 1, body: Err(reason) })
        }

        /// The next element, `None` at the end of the array (or after a structural
        /// error has been reported).
        pub(super) fn next_piece(&mut self) -> io::Result<Option<Piece>> {
            loop {
                match self.state {
                    State::Done => return Ok(None),
                    State::Closed => {
                        self.state = State::Done;
                        return Ok(match self.significant()? {
                            None => None,
                            Some(_) => self.broken("unexpected data after the end of the JSON array".into()),
                        });
                    }
                    State::After => match self.significant()? {
                        Some(b',') => self.state = State::Before,
                        Some(b']') => self.state = State::Closed,
                        Some(b) => {
                            let n = self.count;
                            return Ok(self.broken(format!(
                                "expected ',' or ']' after array element {n}, found {:?}",
                                b as char
                            )));
                        }
                        None => return Ok(self.broken("the JSON array is not closed (file truncated?)".into())),
                    },
                    State::Before => match self.significant()? {
                        Some(b']') => self.state = State::Closed,
                        Some(b',') => {
                            self.count += 1;
                            return Ok(Some(Piece { line: self.count, body: Err("empty array element".into()) }));
                        }
                        Some(first) => return self.element(first).map(Some),
                        None => return Ok(self.broken("the JSON array is not closed (file truncated?)".into())),
                    },
                }
            }
        }

        /// Cuts out the element starting with `first`.
        fn element(&mut self, first: u8) -> io::Result<Piece> {
            self.count += 1;
            let line = self.count;
            let mut out = vec![first];
            let mut depth: u64 = u64::from(matches!(first, b'{' | b'['));
            let (mut in_string, mut escape) = (first == b'"', false);
            if depth == 0 && !in_string && first == b',' {
                self.state = State::Before;
                return Ok(Piece { line, body: Err("empty array element".into()) });
            }
            loop {
                if out.len() > MAX_ELEMENT {
                    self.state = State::Done;
                    return Ok(Piece {
                        line,
                        body: Err(format!("array element {line} is larger than {MAX_ELEMENT} bytes")),
                    });
                }
                let Some(b) = self.byte()? else {
                    self.state = State::Done;
                    return Ok(Piece {
                        line,
                        body: Err(format!("the file ends inside array element {line} (truncated?)")),
                    });
                };
                if in_string {
                    out.push(b);
                    if escape {
                        escape = false;
                    } else if b == b'\\' {
                        escape = true;
                    } else if b == b'"' {
                        in_string = false;
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => {
                        depth -= 1;
                        if depth == 0 {
                            out.push(b);
                            self.state = State::After;
                            return Ok(Piece { line, body: Ok(out) });
                        }
                    }
                    b']' => {
                        self.state = State::Closed;
                        return Ok(Piece { line, body: Ok(out) });
                    }
                    b',' if depth == 0 => {
                        self.state = State::Before;
                        return Ok(Piece { line, body: Ok(out) });
                    }
                    _ => {}
                }
                out.push(b);
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn pieces(input: &str) -> Vec<(u64, Result<String, String>)> {
            let mut s = ArraySplitter::new(input.as_bytes());
            assert!(s.start().unwrap_or(false));
            let mut out = Vec::new();
            while let Ok(Some(p)) = s.next_piece() {
                out.push((p.line, p.body.map(|b| String::from_utf8_lossy(&b).into_owned())));
            }
            out
        }

        #[test]
        fn splits_objects_scalars_and_strings_with_brackets() {
            let got = pieces(r#" [ {"a": "x}],\"{"}, 3 , "s,]" ,{"b":[1,{"c":2}]} ] "#);
            let bodies: Vec<_> =
                got.iter().map(|(n, b)| (*n, b.clone().unwrap_or_default().trim().to_string())).collect();
            assert_eq!(
                bodies,
                vec![
                    (1, r#"{"a": "x}],\"{"}"#.to_string()),
                    (2, "3".to_string()),
                    (3, r#""s,]""#.to_string()),
                    (4, r#"{"b":[1,{"c":2}]}"#.to_string())
                ]
            );
        }

        #[test]
        fn truncated_and_garbled_arrays_end_with_one_error() {
            let got = pieces(r#"[{"a":1},{"b":"#);
            assert_eq!(got.len(), 2);
            assert!(got[1].1.as_ref().is_err_and(|e| e.contains("element 2")));
            let got = pieces(r#"[{"a":1} {"b":2}]"#);
            assert_eq!(got.len(), 2);
            assert_eq!(got[1].0, 2);
            assert!(got[1].1.is_err());
            assert_eq!(pieces("[]").len(), 0);
            assert!(pieces("[{}").last().is_some_and(|p| p.1.is_err()));
        }
    }
}
