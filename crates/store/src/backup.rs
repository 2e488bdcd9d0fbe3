//! Backups that are proven to restore, in one format for both backends.
//!
//! A backup is a directory:
//!
//! ```text
//! BACKUP/
//!   manifest.json        format, schema version, source backend, time, and per table:
//!                        file, columns, row count, SHA-256 of the file; plus the
//!                        content checksums of the record tables
//!   events.jsonl         one JSON array per row, values in the manifest's column order
//!   aircraft.jsonl       (null, integers, reals, strings: nothing backend-specific)
//!   …
//! ```
//!
//! [`backup`] reads every table inside one consistent snapshot of the running
//! store (SQLite: one read transaction on a WAL reader; PostgreSQL: one
//! `REPEATABLE READ READ ONLY` transaction), so loads and queries go on meanwhile.
//! It writes into `BACKUP.partial` and renames it when complete, so a directory
//! named like the backup is never half written.
//!
//! [`restore`] first [`verify`]s everything — the manifest, every file's size in
//! rows, its SHA-256, that each line parses with the right number of values —
//! and refuses a damaged backup naming the file, before it touches the store.
//! Then, in one transaction, it replaces every table's rows and checks the
//! [`crate::Store::content_checksums`] of the result against the manifest before
//! committing. Because the format is neutral, a SQLite backup restores into
//! PostgreSQL and back. Derived tables (`event_facts`) are not in the backup:
//! the store's triggers rebuild them as rows arrive.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use ntsb_model::value::Value;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result, Store, TableChecksum};

/// Name of the manifest file in a backup directory.
pub const MANIFEST: &str = "manifest.json";

/// Format tag written to every manifest.
const FORMAT: &str = "ntsb-backup";

/// Version of the backup format this program writes (it reads every version
/// from 1): 2 added the account tables.
pub const FORMAT_VERSION: u32 = 2;

/// A table in a backup and how its rows are ordered (its primary key).
pub(crate) struct BackupTable {
    /// Table name (static: never read from a backup).
    pub name: &'static str,
    /// `ORDER BY` clause of its dump.
    pub order_by: &'static str,
    /// The first [`FORMAT_VERSION`] whose backups hold it. Restoring an older
    /// backup leaves the table as it is in the store.
    pub since: u32,
}

impl BackupTable {
    const fn v1(name: &'static str, order_by: &'static str) -> BackupTable {
        BackupTable { name, order_by, since: 1 }
    }

    const fn v2(name: &'static str, order_by: &'static str) -> BackupTable {
        BackupTable { name, order_by, since: 2 }
    }
}

/// Every table a backup holds, in restore order (parents before children).
pub(crate) const TABLES: &[BackupTable] = &[
    BackupTable::v1("loads", "id"),
    BackupTable::v1("load_counts", "load_id, table_name"),
    BackupTable::v1("rejects", "id"),
    BackupTable::v1("revisions", "id"),
    BackupTable::v1("code_entries", "ct_name, code, table_name, column_name"),
    BackupTable::v1("event_keys", "ev_id, ntsb_no"),
    BackupTable::v1("events", "id"),
    BackupTable::v1("aircraft", "id"),
    BackupTable::v1("engines", "id"),
    BackupTable::v1("flight_crew", "id"),
    BackupTable::v1("flight_time", "id"),
    BackupTable::v1("injury", "id"),
    BackupTable::v1("findings", "id"),
    BackupTable::v1("occurrences", "id"),
    BackupTable::v1("sequence_of_events", "id"),
    BackupTable::v1("narratives", "id"),
    BackupTable::v1("safety_recommendations", "id"),
    BackupTable::v1("reports", "id"),
    BackupTable::v1("index_log", "seq"),
    BackupTable::v1("store_meta", "key"),
    // Accounts (format 2): users before what refers to them. Password hashes,
    // token and key digests: a backup is as sensitive as the database.
    BackupTable::v2("users", "id"),
    BackupTable::v2("refresh_families", "id"),
    BackupTable::v2("refresh_tokens", "token_hash"),
    BackupTable::v2("api_keys", "id"),
    BackupTable::v2("password_resets", "token_hash"),
    BackupTable::v2("audit_log", "id"),
];

/// One table in a [`Manifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestTable {
    /// Table name.
    pub name: String,
    /// File in the backup directory.
    pub file: String,
    /// Column names, in the order of each row's values.
    pub columns: Vec<String>,
    /// Rows (lines) in the file.
    pub rows: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// The `manifest.json` of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `ntsb-backup`.
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// Schema (migration) version of the store that was backed up.
    pub schema_version: i64,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// RFC 3339 time the snapshot was taken.
    pub created_at: String,
    /// Tables, in restore order.
    pub tables: Vec<ManifestTable>,
    /// [`crate::Store::content_checksums`] of the snapshot, checked after a restore.
    pub content_checksums: Vec<TableChecksum>,
}

impl Manifest {
    /// Rows over every table.
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// What a backend reports about the snapshot it dumped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpInfo {
    /// Schema version of the store.
    pub schema_version: i64,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Content checksums taken inside the same snapshot.
    pub content_checksums: Vec<TableChecksum>,
}

/// Receives the rows of a dump, table by table (see [`crate::Store::dump_tables`]).
pub trait RowSink {
    /// A table starts; its rows will carry `columns` in this order.
    fn begin_table(&mut self, table: &str, columns: &[String]) -> Result<()>;
    /// One row of the current table.
    fn row(&mut self, values: &[Value]) -> Result<()>;
    /// The current table is complete.
    fn end_table(&mut self) -> Result<()>;
}

/// Gives the rows of a verified backup to a store (see [`crate::Store::restore_tables`]).
pub trait RowSource {
    /// The column names of `table` in the backup (the order of each row's values).
    fn columns(&self, table: &str) -> Result<Vec<String>>;
    /// Whether the backup holds `table` (an older format lacks newer tables,
    /// which a restore then leaves as they are).
    fn has_table(&self, table: &str) -> bool;
    /// Calls `f` with every row of `table`, in file order.
    fn rows(&mut self, table: &str, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<()>;
    /// The content checksums the restored store must have.
    fn expected_checksums(&self) -> &[TableChecksum];
}

/// The static tables of a backup, by name, or an error naming `path`.
pub(crate) fn known_table(name: &str, path: &Path) -> Result<&'static BackupTable> {
    TABLES
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::Backup { path: path.display().to_string(), reason: format!("unknown table {name:?}") })
}

/// Checks that the target's columns of a table are the backup's (as sets), so
/// the names used in SQL are the target's own, never the file's.
pub(crate) fn check_columns(table: &str, target: &[String], backup: &[String]) -> Result<()> {
    let mut a: Vec<&String> = target.iter().collect();
    let mut b: Vec<&String> = backup.iter().collect();
    a.sort();
    b.sort();
    if a != b {
        return Err(Error::Backup {
            path: format!("{table}.jsonl"),
            reason: format!(
                "columns differ from the target schema: backup has [{}], the store has [{}]",
                backup.join(", "),
                target.join(", ")
            ),
        });
    }
    Ok(())
}

/// Compares checksums of a restored store with the manifest's.
pub(crate) fn compare_checksums(found: &[TableChecksum], expected: &[TableChecksum]) -> Result<()> {
    for want in expected {
        match found.iter().find(|c| c.table == want.table) {
            Some(got) if got == want => {}
            Some(got) => {
                return Err(Error::Backup {
                    path: format!("{}.jsonl", want.table),
                    reason: format!(
                        "restored content differs from the backup ({} rows, checksum {} expected; {} rows, {} found); \
                         nothing was replaced",
                        want.rows, want.sha256, got.rows, got.sha256
                    ),
                });
            }
            None => {
                return Err(Error::Backup {
                    path: format!("{}.jsonl", want.table),
                    reason: "the store has no such record table".into(),
                });
            }
        }
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.display().to_string(), source }
}

fn damaged(path: &Path, reason: impl Into<String>) -> Error {
    Error::Backup { path: path.display().to_string(), reason: reason.into() }
}

/// A writer that hashes what it writes and counts lines.
struct HashingWriter {
    out: BufWriter<File>,
    hasher: Sha256,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Appends one value as JSON.
fn push_json(line: &mut String, v: &Value) {
    match v {
        Value::Null => line.push_str("null"),
        Value::Int(i) => line.push_str(&i.to_string()),
        // A finite f64 as the shortest text that reads back to the same number,
        // always with a fraction or exponent so it reads back as a real.
        Value::Real(r) if r.is_finite() => {
            let s = serde_json::to_string(r).unwrap_or_else(|_| "null".into());
            line.push_str(&s);
            if !s.contains(['.', 'e', 'E']) {
                line.push_str(".0");
            }
        }
        Value::Real(_) => line.push_str("null"),
        Value::Text(t) => line.push_str(&serde_json::to_string(t).unwrap_or_else(|_| "null".into())),
    }
}

/// Reads one JSON value back.
fn from_json(v: serde_json::Value) -> Option<Value> {
    Some(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) if !n.is_f64() => Value::Int(i),
            _ => Value::Real(n.as_f64()?),
        },
        serde_json::Value::String(s) => Value::Text(s),
        _ => return None,
    })
}

/// Writes a dump into a directory.
struct DirSink {
    dir: PathBuf,
    tables: Vec<ManifestTable>,
    current: Option<(ManifestTable, HashingWriter)>,
    line: String,
}

impl RowSink for DirSink {
    fn begin_table(&mut self, table: &str, columns: &[String]) -> Result<()> {
        let file = format!("{table}.jsonl");
        let path = self.dir.join(&file);
        let out = BufWriter::with_capacity(1 << 20, File::create(&path).map_err(io(&path))?);
        let entry =
            ManifestTable { name: table.into(), file, columns: columns.to_vec(), rows: 0, sha256: String::new() };
        self.current = Some((entry, HashingWriter { out, hasher: Sha256::new() }));
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> Result<()> {
        let Some((entry, out)) = self.current.as_mut() else {
            return Err(Error::Corrupt("a backup row arrived outside a table".into()));
        };
        self.line.clear();
        self.line.push('[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            push_json(&mut self.line, v);
        }
        self.line.push_str("]\n");
        let path = self.dir.join(&entry.file);
        out.write_all(self.line.as_bytes()).map_err(io(&path))?;
        entry.rows += 1;
        Ok(())
    }

    fn end_table(&mut self) -> Result<()> {
        let Some((mut entry, mut out)) = self.current.take() else { return Ok(()) };
        let path = self.dir.join(&entry.file);
        out.flush().map_err(io(&path))?;
        out.out.get_ref().sync_all().map_err(io(&path))?;
        entry.sha256 = hex::encode(out.hasher.finalize());
        self.tables.push(entry);
        Ok(())
    }
}

/// Takes a consistent backup of `store` into the directory `dir`, which must
/// not exist yet (or be empty). Returns its manifest.
pub fn backup(store: &dyn Store, dir: &Path) -> Result<Manifest> {
    if dir.exists() && std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
        return Err(damaged(dir, "already exists and is not empty; choose a new directory"));
    }
    let mut partial = dir.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    create_private_dir(&partial)?;
    let mut sink = DirSink { dir: partial.clone(), tables: Vec::new(), current: None, line: String::new() };
    let info = store.dump_tables(&mut sink)?;
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        schema_version: info.schema_version,
        backend: info.backend,
        created_at: chrono::Utc::now().to_rfc3339(),
        tables: sink.tables,
        content_checksums: info.content_checksums,
    };
    let path = partial.join(MANIFEST);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Corrupt(format!("manifest: {e}")))?;
    std::fs::write(&path, json).map_err(io(&path))?;
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(io(dir))?;
    }
    std::fs::rename(&partial, dir).map_err(io(dir))?;
    Ok(manifest)
}

/// Creates the backup directory readable by its owner only: it holds every
/// account's password hash and key digests.
fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io(dir))
}

/// Reads a backup's manifest (without checking the files).
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let raw = std::fs::read(&path).map_err(|e| damaged(&path, format!("cannot be read: {e}")))?;
    let manifest: Manifest =
        serde_json::from_slice(&raw).map_err(|e| damaged(&path, format!("is not a valid manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(damaged(&path, format!("format is {:?}, not {FORMAT:?}", manifest.format)));
    }
    if !(1..=FORMAT_VERSION).contains(&manifest.format_version) {
        return Err(damaged(
            &path,
            format!(
                "format version {} is not one this program reads (1 to {FORMAT_VERSION}); use a newer program",
                manifest.format_version
            ),
        ));
    }
    Ok(manifest)
}

/// Checks a backup completely without touching any store: the manifest names
/// every table exactly once; every file exists, has the listed number of rows
/// and SHA-256, and every line is a JSON array of as many plain values as there
/// are columns. Returns the manifest, or an error naming the first bad file.
pub fn verify(dir: &Path) -> Result<Manifest> {
    let manifest = read_manifest(dir)?;
    let manifest_path = dir.join(MANIFEST);
    for t in TABLES.iter().filter(|t| t.since <= manifest.format_version) {
        let n = manifest.tables.iter().filter(|m| m.name == t.name).count();
        if n != 1 {
            return Err(damaged(&manifest_path, format!("lists table {} {n} times, not once", t.name)));
        }
    }
    for entry in &manifest.tables {
        if known_table(&entry.name, &manifest_path)?.since > manifest.format_version {
            return Err(damaged(
                &manifest_path,
                format!("lists table {}, which format version {} does not have", entry.name, manifest.format_version),
            ));
        }
        if entry.file != format!("{}.jsonl", entry.name) {
            return Err(damaged(&manifest_path, format!("table {} has unexpected file {:?}", entry.name, entry.file)));
        }
        let path = dir.join(&entry.file);
        let file = File::open(&path).map_err(|e| damaged(&path, format!("cannot be read: {e}")))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut hasher = Sha256::new();
        let mut rows = 0u64;
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(|e| damaged(&path, format!("cannot be read: {e}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&line);
            rows += 1;
            let parsed: Vec<serde_json::Value> = serde_json::from_slice(&line)
                .map_err(|e| damaged(&path, format!("line {rows} is not a JSON array of values: {e}")))?;
            if parsed.len() != entry.columns.len() {
                return Err(damaged(
                    &path,
                    format!("line {rows} has {} values for {} columns", parsed.len(), entry.columns.len()),
                ));
            }
            if parsed.into_iter().any(|v| from_json(v).is_none()) {
                return Err(damaged(
                    &path,
                    format!("line {rows} holds a value that is not null, a number or a string"),
                ));
            }
        }
        if rows != entry.rows {
            return Err(damaged(&path, format!("has {rows} rows, the manifest says {}", entry.rows)));
        }
        let sha = hex::encode(hasher.finalize());
        if sha != entry.sha256 {
            return Err(damaged(&path, format!("SHA-256 is {sha}, the manifest says {}", entry.sha256)));
        }
    }
    Ok(manifest)
}

/// Reads a verified backup directory.
struct DirSource {
    dir: PathBuf,
    manifest: Manifest,
}

impl RowSource for DirSource {
    fn columns(&self, table: &str) -> Result<Vec<String>> {
        self.manifest
            .tables
            .iter()
            .find(|t| t.name == table)
            .map(|t| t.columns.clone())
            .ok_or_else(|| damaged(&self.dir.join(MANIFEST), format!("has no table {table}")))
    }

    fn has_table(&self, table: &str) -> bool {
        self.manifest.tables.iter().any(|t| t.name == table)
    }

    fn rows(&mut self, table: &str, f: &mut dyn FnMut(Vec<Value>) -> Result<()>) -> Result<()> {
        let path = self.dir.join(format!("{table}.jsonl"));
        let file = File::open(&path).map_err(|e| damaged(&path, format!("cannot be read: {e}")))?;
        let reader = BufReader::with_capacity(1 << 20, file);
        for (i, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| damaged(&path, format!("cannot be read: {e}")))?;
            let parsed: Vec<serde_json::Value> = serde_json::from_str(&line)
                .map_err(|e| damaged(&path, format!("line {} changed since it was verified: {e}", i + 1)))?;
            let values = parsed
                .into_iter()
                .map(from_json)
                .collect::<Option<Vec<Value>>>()
                .ok_or_else(|| damaged(&path, format!("line {} changed since it was verified", i + 1)))?;
            f(values)?;
        }
        Ok(())
    }

    fn expected_checksums(&self) -> &[TableChecksum] {
        &self.manifest.content_checksums
    }
}

/// Replaces everything in `store` with the backup in `dir`, after verifying the
/// backup completely (see [`verify`]); a store at schema version 0 is migrated
/// first. The store must be at the backup's schema version. Returns the manifest.
pub fn restore(store: &dyn Store, dir: &Path) -> Result<Manifest> {
    let manifest = verify(dir)?;
    let current = store.migration_status()?.iter().filter(|m| m.applied_at.is_some()).map(|m| m.version).max();
    let current = match current {
        None => {
            store.migrate()?;
            store.migration_status()?.iter().filter(|m| m.applied_at.is_some()).map(|m| m.version).max().unwrap_or(0)
        }
        Some(v) => v,
    };
    if current != manifest.schema_version {
        return Err(damaged(
            &dir.join(MANIFEST),
            format!(
                "was taken at schema version {}, the store is at {current}; migrate or roll back the store to \
                 version {} first",
                manifest.schema_version, manifest.schema_version
            ),
        ));
    }
    let mut source = DirSource { dir: dir.to_path_buf(), manifest: manifest.clone() };
    store.restore_tables(&mut source)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_json_with_their_types() {
        let values = [
            Value::Null,
            Value::Int(-7),
            Value::Real(1.0),
            Value::Real(40.712_345_678),
            Value::Real(1e300),
            Value::Text("a \"quoted\"\nline\t✈".into()),
        ];
        let mut line = String::from("[");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            push_json(&mut line, v);
        }
        line.push(']');
        let back: Vec<Value> = serde_json::from_str::<Vec<serde_json::Value>>(&line)
            .unwrap()
            .into_iter()
            .map(|v| from_json(v).unwrap())
            .collect();
        assert_eq!(back, values);
    }
}
