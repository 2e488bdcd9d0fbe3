//! Recognising NTSB files by content and ordering them for loading.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::csv_rows::Header;
use crate::error::{Error, Result};

/// A table of NTSB's relational database, as exported per table by `mdb-export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AvallTable {
    Events,
    /// The one-row-per-event extract with highest injury and first aircraft
    /// (`events_aircraft_basic.csv`).
    EventsAircraftBasic,
    Aircraft,
    Engines,
    FlightCrew,
    FlightTime,
    Injury,
    Findings,
    EventsSequence,
    Occurrences,
    SeqOfEvents,
    Narratives,
    NtsbAdmin,
}

impl AvallTable {
    /// Every table, in declaration order.
    pub const ALL: [AvallTable; 13] = [
        AvallTable::Events,
        AvallTable::EventsAircraftBasic,
        AvallTable::Aircraft,
        AvallTable::Engines,
        AvallTable::FlightCrew,
        AvallTable::FlightTime,
        AvallTable::Injury,
        AvallTable::Findings,
        AvallTable::EventsSequence,
        AvallTable::Occurrences,
        AvallTable::SeqOfEvents,
        AvallTable::Narratives,
        AvallTable::NtsbAdmin,
    ];

    /// Recognises a table from its header columns.
    pub fn from_header(h: &Header) -> Option<Self> {
        use AvallTable::*;
        if !h.has_all(&["ev_id"]) {
            return None;
        }
        let t = if h.has_all(&["ev_highest_injury", "acft_make", "aircraft_key"]) && !h.has_all(&["ev_type"]) {
            EventsAircraftBasic
        } else if h.has_all(&["ev_date", "ev_type"]) || h.has_all(&["ev_date", "ev_highest_injury"]) {
            Events
        } else if h.has_all(&["rec_stat"]) {
            NtsbAdmin
        } else if h.has_all(&["eng_no"]) {
            Engines
        } else if h.has_all(&["flight_hours"]) {
            FlightTime
        } else if h.has_all(&["crew_no"]) {
            FlightCrew
        } else if h.has_all(&["inj_person_category"]) {
            Injury
        } else if h.has_all(&["finding_no"]) {
            Findings
        } else if h.has_all(&["seq_event_no"]) {
            SeqOfEvents
        } else if h.has_all(&["occurrence_no", "eventsoe_no"]) {
            EventsSequence
        } else if h.has_all(&["occurrence_no", "occurrence_code"]) {
            Occurrences
        } else if h.has_all(&["narr_accp"]) || h.has_all(&["narr_accf"]) || h.has_all(&["narr_cause"]) {
            Narratives
        } else if h.has_all(&["aircraft_key"])
            && (h.has_all(&["acft_make"]) || h.has_all(&["regis_no"]) || h.has_all(&["damage"]))
        {
            Aircraft
        } else {
            return None;
        };
        Some(t)
    }

    /// Recognises a table from an Access table name (`events`, `Flight_Crew`, …).
    pub fn from_table_name(name: &str) -> Option<Self> {
        use AvallTable::*;
        Some(match name.to_ascii_lowercase().as_str() {
            "events" => Events,
            "aircraft" => Aircraft,
            "engines" => Engines,
            "flight_crew" => FlightCrew,
            "flight_time" => FlightTime,
            "injury" => Injury,
            "findings" => Findings,
            "events_sequence" => EventsSequence,
            "occurrences" => Occurrences,
            "seq_of_events" => SeqOfEvents,
            "narratives" => Narratives,
            "ntsb_admin" => NtsbAdmin,
            _ => return None,
        })
    }

    /// Whether rows of this table create events (rather than refer to them).
    pub fn creates_events(self) -> bool {
        matches!(self, AvallTable::Events | AvallTable::EventsAircraftBasic)
    }

    /// Load order among avall tables: events, then aircraft, then the rest.
    pub fn rank(self) -> u8 {
        use AvallTable::*;
        match self {
            Events | EventsAircraftBasic => 0,
            Aircraft => 1,
            _ => 2,
        }
    }
}

/// NTSB code tables and the data dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeTableKind {
    /// `eADMSPUB_DataDictionary.csv`: every coded column with codes and meanings.
    DataDictionary,
    /// `ct_seqevt.csv`: legacy occurrence and sequence-of-events codes.
    CtSeqevt,
    /// `ct_iaids.csv`: many `ct_*` lookup tables in one file.
    CtIaids,
    /// `states.csv`: US state codes and names.
    States,
    /// `Country.csv`: country codes and names.
    Country,
}

/// A recognised source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// An Access database (`avall.mdb`, `Pre2008.mdb`, `PRE1982.MDB`).
    Access,
    /// A `.zip` archive holding an Access database, as NTSB distributes them.
    AccessZip,
    /// One table of an Access database exported as CSV.
    Avall(AvallTable),
    /// The flat AviationData export.
    AviationData,
    /// A CAROL case export as CSV.
    CarolCsv,
    /// A CAROL case export as a JSON array.
    CarolJson,
    /// Narrative JSONL (`{ev_id, narrative, probable_cause}`).
    NarrativeJsonl,
    /// Probable cause, findings and safety recommendation text by case.
    SafetyRecs,
    /// The ev_id ↔ ntsb_no crosswalk.
    Crosswalk,
    /// The index of full report text documents (`reports_index.csv`).
    ReportsIndex,
    /// A code table or the data dictionary.
    CodeTable(CodeTableKind),
}

impl Format {
    /// Name for `--format` and for output.
    pub fn name(self) -> &'static str {
        match self {
            Format::Access => "access",
            Format::AccessZip => "access-zip",
            Format::Avall(_) => "avall-csv",
            Format::AviationData => "aviationdata",
            Format::CarolCsv => "carol-csv",
            Format::CarolJson => "carol-json",
            Format::NarrativeJsonl => "narratives-jsonl",
            Format::SafetyRecs => "safety-recs",
            Format::Crosswalk => "crosswalk",
            Format::ReportsIndex => "reports",
            Format::CodeTable(_) => "code-table",
        }
    }

    /// Names accepted by `--format`.
    pub const NAMES: &'static [&'static str] = &[
        "access",
        "access-zip",
        "avall-csv",
        "aviationdata",
        "carol-csv",
        "carol-json",
        "narratives-jsonl",
        "safety-recs",
        "crosswalk",
        "reports",
        "code-table",
    ];

    /// Load order: code tables, identifiers, events, CAROL, aircraft-level
    /// tables, text. Parents always load before the records that refer to them.
    pub fn rank(self) -> u8 {
        match self {
            Format::CodeTable(_) => 0,
            Format::Crosswalk => 1,
            Format::Access | Format::AccessZip | Format::AviationData => 2,
            Format::Avall(t) if t.creates_events() => 2,
            Format::CarolCsv | Format::CarolJson => 3,
            Format::Avall(t) => 4 + t.rank(),
            Format::NarrativeJsonl | Format::SafetyRecs => 7,
            Format::ReportsIndex => 8,
        }
    }
}

/// A file and the format it was recognised as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
}

/// A file `discover` passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why it is not loaded.
    pub reason: String,
}

/// The files to load, in load order, and the files passed over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Files to load, parents first.
    pub files: Vec<Detected>,
    /// Files found in directories that are not NTSB record formats.
    pub skipped: Vec<Skipped>,
}

/// Recognises one file. `Ok(Err(reason))` when it is readable but not an NTSB
/// record format; `Err` when it cannot be read.
pub fn detect(path: &Path) -> Result<std::result::Result<Format, String>> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = vec![0u8; 64 * 1024];
    let mut n = 0;
    while n < head.len() {
        let got = file.read(&mut head[n..]).map_err(|e| Error::io(path, e))?;
        if got == 0 {
            break;
        }
        n += got;
    }
    head.truncate(n);
    if n == 0 {
        return Ok(Err("the file is empty".into()));
    }
    if head.len() >= 20 && (&head[4..19] == b"Standard Jet DB" || &head[4..19] == b"Standard ACE DB") {
        return Ok(Ok(Format::Access));
    }
    if head.starts_with(b"PK\x03\x04") {
        return Ok(if zip_holds_access(path)? {
            Ok(Format::AccessZip)
        } else {
            Err("a zip archive without an Access database".into())
        });
    }
    if head.starts_with(b"PAR1") {
        return Ok(Err("a Parquet table (a derived feature table, not an NTSB record format)".into()));
    }
    if head.contains(&0) {
        return Ok(Err("binary content of an unknown kind".into()));
    }
    let text = String::from_utf8_lossy(&head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('[') {
        return Ok(if trimmed.contains("\"NtsbNo\"") {
            Ok(Format::CarolJson)
        } else {
            Err("a JSON array without CAROL fields".into())
        });
    }
    if trimmed.starts_with('{') {
        let first = trimmed.lines().next().unwrap_or("");
        let keys_ok =
            first.contains("\"ev_id\"") && (first.contains("\"narrative\"") || first.contains("\"probable_cause\""));
        return Ok(if keys_ok {
            Ok(Format::NarrativeJsonl)
        } else {
            Err("JSON lines without ev_id and narrative fields".into())
        });
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if matches!(ext.as_str(), "md" | "txt" | "yaml" | "yml" | "pdf") {
        return Ok(Err(format!("a .{ext} document, not a record table (report texts load through reports_index.csv)")));
    }
    let first_line = BufReader::new(trimmed.as_bytes()).lines().next().transpose().ok().flatten().unwrap_or_default();
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(first_line.as_bytes());
    let Some(Ok(rec)) = rdr.records().next() else {
        return Ok(Err("no CSV header".into()));
    };
    let h = Header::new(rec.iter());
    Ok(csv_format(&h).ok_or_else(|| {
        let cols: Vec<&str> = h.names().iter().take(6).map(String::as_str).collect();
        format!("a CSV table with unrecognised columns ({}…)", cols.join(", "))
    }))
}

/// Recognises a CSV format from its header.
pub(crate) fn csv_format(h: &Header) -> Option<Format> {
    use CodeTableKind::*;
    Some(if h.has_all(&["Event.Id", "Investigation.Type", "Accident.Number"]) {
        Format::AviationData
    } else if h.has_all(&["NtsbNo", "EventType", "Mkey"]) {
        Format::CarolCsv
    } else if h.has_all(&["NtsbNo", "ProbableCause", "Event.Id"]) {
        Format::SafetyRecs
    } else if h.has_all(&["ev_id", "ntsb_no", "event_date", "sources"]) {
        Format::Crosswalk
    } else if h.has_all(&["file", "ev_id", "ntsb_no", "report_type"]) {
        Format::ReportsIndex
    } else if h.has_all(&["Table", "Column", "ct_name", "code_iaids", "meaning"]) {
        Format::CodeTable(DataDictionary)
    } else if h.has_all(&["ct_name", "code_iaids", "meaning"]) {
        Format::CodeTable(CtIaids)
    } else if h.names().len() == 2 && h.has_all(&["code", "meaning"]) {
        Format::CodeTable(CtSeqevt)
    } else if h.has_all(&["state", "name"]) && !h.has_all(&["ev_id"]) {
        Format::CodeTable(States)
    } else if h.has_all(&["COUNTRY_CODE", "COUNTRY_NAME"]) {
        Format::CodeTable(Country)
    } else {
        Format::Avall(AvallTable::from_header(h)?)
    })
}

fn zip_holds_access(path: &Path) -> Result<bool> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let archive =
        zip::ZipArchive::new(file).map_err(|e| Error::malformed(path, format!("corrupt zip archive: {e}")))?;
    Ok(archive.file_names().any(|n| {
        let l = n.map(|n| n.to_ascii_lowercase()).unwrap_or_default();
        l.ends_with(".mdb") || l.ends_with(".accdb")
    }))
}

/// Parses a `--format` name. For `avall-csv` and `code-table` the table is still
/// recognised from the header.
pub fn forced_format(name: &str, path: &Path) -> Result<Format> {
    let sniffed = || -> Result<Option<Format>> { Ok(detect(path)?.ok()) };
    let f = match name {
        "access" => Format::Access,
        "access-zip" => Format::AccessZip,
        "aviationdata" => Format::AviationData,
        "carol-csv" => Format::CarolCsv,
        "carol-json" => Format::CarolJson,
        "narratives-jsonl" => Format::NarrativeJsonl,
        "safety-recs" => Format::SafetyRecs,
        "crosswalk" => Format::Crosswalk,
        "reports" => Format::ReportsIndex,
        "avall-csv" => match sniffed()? {
            Some(f @ Format::Avall(_)) => f,
            _ => return Err(Error::malformed(path, "--format avall-csv: the header matches no NTSB table")),
        },
        "code-table" => match sniffed()? {
            Some(f @ Format::CodeTable(_)) => f,
            _ => return Err(Error::malformed(path, "--format code-table: the header matches no code table")),
        },
        other => {
            return Err(Error::UnknownFormat {
                path: path.display().to_string(),
                reason: format!("--format {other:?} is not one of {}", Format::NAMES.join(", ")),
            });
        }
    };
    Ok(f)
}

/// Walks the given paths and recognises every file. Files inside directories that
/// are not NTSB record formats are listed in `skipped`; a file named explicitly
/// that is not readable as NTSB data is an error. With `forced`, every file named
/// or found is read as that format.
pub fn discover(paths: &[PathBuf], forced: Option<&str>) -> Result<Discovery> {
    let mut out = Discovery::default();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files)?;
            for file in files {
                match forced {
                    Some(name) => out.files.push(Detected { format: forced_format(name, &file)?, path: file }),
                    None => match detect(&file)? {
                        Ok(format) => out.files.push(Detected { path: file, format }),
                        Err(reason) => out.skipped.push(Skipped { path: file, reason }),
                    },
                }
            }
        } else {
            let format = match forced {
                Some(name) => forced_format(name, path)?,
                None => {
                    detect(path)?.map_err(|reason| Error::UnknownFormat { path: path.display().to_string(), reason })?
                }
            };
            out.files.push(Detected { path: path.clone(), format });
        }
    }
    out.files.sort_by(|a, b| a.format.rank().cmp(&b.format.rank()).then_with(|| a.path.cmp(&b.path)));
    out.files.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(())
}
