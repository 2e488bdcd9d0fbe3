//! Reader for narrative JSONL (`{"ev_id", "narrative", "probable_cause"}`, one
//! object per line), read line by line in constant memory. A line that is not
//! JSON, or lacks a valid `ev_id`, is rejected with its line number; a line whose
//! texts are both empty carries nothing and yields no record (a reject when it
//! holds keys other than those three, so a misspelt key is never lost silently).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use ntsb_model::SourceKind;
use ntsb_model::records::{EventRef, NarrativeRecord, Record, Reject, SourcedRecord};
use serde_json::Value;

/// The keys of a narrative line.
const KNOWN_KEYS: [&str; 3] = ["ev_id", "narrative", "probable_cause"];

use crate::csv_rows::{file_label, is_event_id};
use crate::{Error, Item, RecordStream, Result};

/// Longest line accepted (the longest real narrative is about 15 kB); longer
/// lines are rejected and skipped without holding them in memory.
const MAX_LINE: u64 = 8 << 20;

/// Opens a narrative JSONL file.
pub fn open(path: &Path) -> Result<Box<dyn RecordStream>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(Box::new(JsonlStream::new(BufReader::with_capacity(1 << 16, file), path)))
}

/// A [`RecordStream`] over narrative JSON lines from any buffered reader.
pub struct JsonlStream<R: BufRead> {
    reader: R,
    path: PathBuf,
    file: String,
    line: u64,
    bytes: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> JsonlStream<R> {
    /// Starts reading `reader`; `path` names it in rejects and errors.
    pub fn new(reader: R, path: &Path) -> Self {
        JsonlStream {
            reader,
            path: path.to_path_buf(),
            file: file_label(path),
            line: 0,
            bytes: 0,
            buf: Vec::new(),
            done: false,
        }
    }

    fn reject(&self, field: Option<&str>, reason: String) -> Reject {
        Reject {
            file: self.file.clone(),
            line: self.line,
            field: field.map(str::to_string),
            reason,
            table: Some("narratives".into()),
        }
    }

    /// Reads the next line into `buf`; `Ok(false)` at end of file, `Ok(true)`
    /// with an empty buffer and `too_long` set when the line was skipped.
    fn read_line(&mut self) -> std::io::Result<(bool, bool)> {
        self.buf.clear();
        let n = (&mut self.reader).take(MAX_LINE).read_until(b'\n', &mut self.buf)?;
        self.bytes += n as u64;
        if n == 0 {
            return Ok((false, false));
        }
        if self.buf.last() == Some(&b'\n') || (n as u64) < MAX_LINE {
            return Ok((true, false));
        }
        // Too long: discard the rest of the line in bounded chunks.
        loop {
            self.buf.clear();
            let m = (&mut self.reader).take(1 << 16).read_until(b'\n', &mut self.buf)?;
            self.bytes += m as u64;
            if m == 0 || self.buf.last() == Some(&b'\n') {
                self.buf.clear();
                return Ok((true, true));
            }
        }
    }

    fn parse(&self) -> std::result::Result<Option<Record>, Reject> {
        let text = std::str::from_utf8(&self.buf).map_err(|_| self.reject(None, "the line is not UTF-8".into()))?;
        let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| self.reject(None, format!("the line is not valid JSON: {e}")))?;
        let obj = value.as_object().ok_or_else(|| self.reject(None, "the line is not a JSON object".into()))?;
        let ev_id = match obj.get("ev_id") {
            Some(Value::String(s)) if is_event_id(s.trim()) => s.trim().to_string(),
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err(self.reject(Some("ev_id"), "ev_id is required".into()));
            }
            Some(Value::String(s)) => {
                return Err(self.reject(Some("ev_id"), format!("ev_id {s:?} is not an NTSB event id")));
            }
            None | Some(Value::Null) => return Err(self.reject(Some("ev_id"), "ev_id is required".into())),
            Some(other) => return Err(self.reject(Some("ev_id"), format!("ev_id {other} is not an NTSB event id"))),
        };
        let narrative = self.text_field(obj, "narrative")?;
        let probable_cause = self.text_field(obj, "probable_cause")?;
        if narrative.is_none() && probable_cause.is_none() {
            // Nothing to load; but a misspelt key ("narrativ") must not vanish silently.
            let unknown: Vec<&str> = obj.keys().map(String::as_str).filter(|k| !KNOWN_KEYS.contains(k)).collect();
            if !unknown.is_empty() {
                return Err(self.reject(None, format!("no narrative or probable_cause; unknown keys {unknown:?}")));
            }
            return Ok(None);
        }
        Ok(Some(Record::Narrative(NarrativeRecord {
            event: EventRef::EvId(ev_id),
            aircraft_key: 0,
            narrative,
            probable_cause,
            ..Default::default()
        })))
    }

    fn text_field(
        &self,
        obj: &serde_json::Map<String, Value>,
        key: &str,
    ) -> std::result::Result<Option<String>, Reject> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(ntsb_model::normalize::non_empty(s)),
            Some(_) => Err(self.reject(Some(key), format!("{key} is not text"))),
        }
    }
}

impl<R: BufRead> Iterator for JsonlStream<R> {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let (more, too_long) = match self.read_line() {
                Ok(r) => r,
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::io(&self.path, e)));
                }
            };
            if !more {
                self.done = true;
                break;
            }
            self.line += 1;
            if too_long {
                return Some(Ok(Item::Reject(self.reject(None, format!("the line is longer than {MAX_LINE} bytes")))));
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match self.parse() {
                Ok(Some(record)) => return Some(Ok(Item::Record(SourcedRecord { line: self.line, record }))),
                Ok(None) => continue,
                Err(reject) => return Some(Ok(Item::Reject(reject))),
            }
        }
        None
    }
}

impl<R: BufRead> RecordStream for JsonlStream<R> {
    fn kind(&self) -> SourceKind {
        SourceKind::NarrativeJsonl
    }

    fn bytes_read(&self) -> Option<u64> {
        Some(self.bytes)
    }
}
