//! Reader for NTSB's Access databases (`avall.mdb`, `Pre2008.mdb`), bare or in
//! the `.zip` NTSB distributes them in, through mdbtools.
//!
//! `mdb-tables -1` lists the tables; each one NTSB Analytics knows
//! ([`AvallTable::from_table_name`]) is exported with `mdb-export` in load order
//! (events, aircraft, the rest) and its CSV output streamed straight into
//! [`avall::stream_table`], so memory stays constant whatever the database size.
//! Tables not recognised are skipped; [`plan`] lists them.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

use ntsb_model::SourceKind;

use crate::formats::avall;
use crate::{AvallTable, Error, Item, RecordStream, Result};

/// The one sentence shown when mdbtools is absent.
pub const MDBTOOLS_MISSING: &str = "mdbtools is not installed: install the Debian package `mdbtools` (apt-get install mdbtools) to read Access databases";

/// Opens an `.mdb` / `.accdb` file.
pub fn open(path: &Path) -> Result<Box<dyn RecordStream>> {
    let (tables, _skipped) = plan(path)?;
    Ok(Box::new(AccessStream::new(path.to_path_buf(), path.display().to_string(), tables, None)))
}

/// Opens a `.zip` holding an Access database: the first `.mdb`/`.accdb` entry is
/// copied to a temporary file (streamed, constant memory) that lives as long as
/// the returned stream.
pub fn open_zip(path: &Path) -> Result<Box<dyn RecordStream>> {
    let temp = extract_database(path)?;
    let db = temp.path().to_path_buf();
    let (tables, _skipped) = plan(&db)?;
    Ok(Box::new(AccessStream::new(db, path.display().to_string(), tables, Some(temp))))
}

/// Copies the database inside a zip archive to a temporary file.
pub fn extract_database(path: &Path) -> Result<tempfile::NamedTempFile> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| Error::malformed(path, format!("corrupt zip archive: {e}")))?;
    let index = (0..archive.len())
        .find(|&i| {
            archive.name_for_index(i).and_then(|n| n.ok()).is_some_and(|n| {
                let l = n.to_ascii_lowercase();
                l.ends_with(".mdb") || l.ends_with(".accdb")
            })
        })
        .ok_or_else(|| Error::malformed(path, "the zip archive holds no .mdb or .accdb database"))?;
    let mut entry =
        archive.by_index(index).map_err(|e| Error::malformed(path, format!("corrupt zip archive entry: {e}")))?;
    let entry_name = entry.name().map(|n| n.to_string()).unwrap_or_default();
    let suffix = if entry_name.to_ascii_lowercase().ends_with(".accdb") { ".accdb" } else { ".mdb" };
    let mut temp = tempfile::Builder::new()
        .prefix("ntsb-access-")
        .suffix(suffix)
        .tempfile()
        .map_err(|e| Error::Io { path: std::env::temp_dir().display().to_string(), source: e })?;
    std::io::copy(&mut entry, temp.as_file_mut())
        .map_err(|e| Error::malformed(path, format!("cannot extract {entry_name}: {e}")))?;
    Ok(temp)
}

/// Every table of an Access database, as `mdb-tables -1` lists them.
pub fn list_tables(path: &Path) -> Result<Vec<String>> {
    let out = Command::new("mdb-tables")
        .arg("-1")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| tool_error(path, e))?;
    if !out.status.success() {
        return Err(Error::Tool { path: path.display().to_string(), reason: failure("mdb-tables", &out.stderr) });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Tables to load, in load order, with what they are; and the table names skipped.
pub type Plan = (Vec<(String, AvallTable)>, Vec<String>);

/// The tables that will be loaded, in load order, and the names of those skipped
/// because NTSB Analytics does not read them.
pub fn plan(path: &Path) -> Result<Plan> {
    let mut load = Vec::new();
    let mut skipped = Vec::new();
    for name in list_tables(path)? {
        match AvallTable::from_table_name(&name) {
            Some(t) => load.push((name, t)),
            None => skipped.push(name),
        }
    }
    load.sort_by_key(|(_, t)| t.rank());
    Ok((load, skipped))
}

fn tool_error(path: &Path, e: std::io::Error) -> Error {
    let reason = if e.kind() == std::io::ErrorKind::NotFound {
        MDBTOOLS_MISSING.to_string()
    } else {
        format!("cannot run mdbtools: {e}")
    };
    Error::Tool { path: path.display().to_string(), reason }
}

fn failure(tool: &str, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    match text.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(first) => format!("{tool} failed: {first}"),
        None => format!("{tool} failed"),
    }
}

/// One running `mdb-export` and the stream over its output.
struct Export {
    child: Child,
    stderr: Option<JoinHandle<Vec<u8>>>,
    stream: Box<dyn RecordStream>,
    table: String,
}

/// Streams the recognised tables of one database, one `mdb-export` at a time.
struct AccessStream {
    db: PathBuf,
    label: String,
    tables: VecDeque<(String, AvallTable)>,
    current: Option<Export>,
    done: bool,
    /// Keeps an extracted database alive as long as the stream.
    _temp: Option<tempfile::NamedTempFile>,
}

impl AccessStream {
    fn new(
        db: PathBuf,
        label: String,
        tables: Vec<(String, AvallTable)>,
        temp: Option<tempfile::NamedTempFile>,
    ) -> Self {
        AccessStream { db, label, tables: tables.into(), current: None, done: false, _temp: temp }
    }

    fn error_path(&self) -> PathBuf {
        PathBuf::from(&self.label)
    }

    /// Starts `mdb-export` for a table.
    fn start(&self, name: &str, table: AvallTable) -> Result<Export> {
        let path = self.error_path();
        let mut child = Command::new("mdb-export")
            .arg(&self.db)
            .arg(name)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| tool_error(&path, e))?;
        // Drain stderr on a thread so a chatty export can never block on a full pipe.
        let stderr = child.stderr.take().map(|mut err| {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if kept.len() < 8192 {
                        kept.extend_from_slice(&buf[..n]);
                    }
                }
                kept
            })
        });
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Tool { path: path.display().to_string(), reason: "mdb-export gave no output".into() });
        };
        let label = format!("{}:{name}", self.label);
        match avall::stream_table(BufReader::with_capacity(1 << 16, stdout), &path, label, table) {
            Ok(stream) => Ok(Export { child, stderr, stream, table: name.to_string() }),
            Err(e) => match finish(&mut child, stderr, name, &path) {
                Err(tool) => Err(tool),
                Ok(()) => Err(e),
            },
        }
    }
}

/// Waits for an export to end; a non-zero exit is a [`Error::Tool`] with the
/// first line of its stderr.
fn finish(child: &mut Child, stderr: Option<JoinHandle<Vec<u8>>>, table: &str, path: &Path) -> Result<()> {
    let status = child.wait().map_err(|e| Error::io(path, e))?;
    let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        Err(Error::Tool {
            path: path.display().to_string(),
            reason: format!("{} (table {table})", failure("mdb-export", &stderr)),
        })
    }
}

impl Drop for AccessStream {
    fn drop(&mut self) {
        if let Some(mut export) = self.current.take() {
            let _ = export.child.kill();
            let _ = export.child.wait();
        }
    }
}

impl Iterator for AccessStream {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.error_path();
        loop {
            if self.done {
                return None;
            }
            if let Some(export) = self.current.as_mut() {
                match export.stream.next() {
                    Some(Ok(item)) => return Some(Ok(item)),
                    Some(Err(e)) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                    None => {
                        let result = finish(&mut export.child, export.stderr.take(), &export.table, &path);
                        self.current = None;
                        if let Err(e) = result {
                            self.done = true;
                            return Some(Err(e));
                        }
                    }
                }
                continue;
            }
            let Some((name, table)) = self.tables.pop_front() else {
                self.done = true;
                return None;
            };
            match self.start(&name, table) {
                Ok(export) => self.current = Some(export),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl RecordStream for AccessStream {
    fn kind(&self) -> SourceKind {
        SourceKind::Avall
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_mdbtools_is_one_clear_sentence() {
        let e = tool_error(Path::new("avall.mdb"), std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(e.to_string(), format!("avall.mdb: {MDBTOOLS_MISSING}"));
    }

    #[test]
    fn failing_export_reports_the_first_stderr_line() {
        let db = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/access-sample/nwind.mdb");
        if !db.is_file() || Command::new("mdb-export").arg("--version").output().is_err() {
            eprintln!("SKIPPED failing_export_reports_the_first_stderr_line: needs mdbtools and the shared nwind.mdb");
            return;
        }
        let mut stream =
            AccessStream::new(db, "nwind.mdb".into(), vec![("No Such Table".into(), AvallTable::Events)], None);
        match stream.next() {
            Some(Err(Error::Tool { reason, .. })) => {
                assert!(reason.starts_with("mdb-export failed: "), "{reason}");
                assert!(reason.contains("No Such Table"), "{reason}");
            }
            other => panic!("expected a tool error, got {other:?}"),
        }
        assert!(stream.next().is_none());
    }
}
