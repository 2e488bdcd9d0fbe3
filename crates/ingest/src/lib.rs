//! Streaming readers for every NTSB source format.
//!
//! `ntsb ingest PATH...` hands paths to [`discover`], which walks directories,
//! recognises each file by its content (header columns, JSON keys, Access magic
//! bytes) rather than its name, lists what it skipped and why, and orders the rest
//! so parents load before children (code tables, then identifiers, then events,
//! then aircraft-level tables, then text). [`open`] turns one recognised file into
//! a [`RecordStream`]: an iterator of normalised records and per-row rejects, in
//! constant memory whatever the file size.
//!
//! Readers never abort on a bad row: it becomes a [`Reject`] naming file, line,
//! field and reason, and reading goes on. Only an unreadable file (I/O error,
//! missing `mdb-export`, corrupt archive) ends a stream with an [`Error`].
#![deny(missing_docs)]

pub mod csv_rows;
pub mod demo;
mod detect;
mod error;
pub mod formats;

pub use detect::{AvallTable, CodeTableKind, Detected, Discovery, Format, Skipped, detect, discover, forced_format};
pub use error::{Error, Result};
pub use formats::open;

use ntsb_model::SourceKind;
use ntsb_model::records::{Reject, SourcedRecord};

/// One item read from a source: a record to store, or a row refused with a reason.
///
/// Records are by far the common variant, so they are not boxed: boxing would
/// cost one allocation per record to shrink the rare reject.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A normalised record and the line it came from.
    Record(SourcedRecord),
    /// A row that could not be turned into a record.
    Reject(Reject),
}

/// A stream of items from one source file. Iteration ends at the end of the file
/// or at the first fatal [`Error`] (after which the stream yields nothing more).
pub trait RecordStream: Iterator<Item = Result<Item>> {
    /// Kind of source, deciding precedence in the store.
    fn kind(&self) -> SourceKind;

    /// Bytes of the file consumed so far, for progress bars; `None` when the
    /// stream cannot tell (an Access export read through a pipe).
    fn bytes_read(&self) -> Option<u64> {
        None
    }
}

/// Reads a whole stream into its records and rejects, stopping at the first
/// fatal error. For small inputs and tests; loaders stream instead.
pub fn read_all(stream: impl Iterator<Item = Result<Item>>) -> Result<(Vec<SourcedRecord>, Vec<Reject>)> {
    let (mut records, mut rejects) = (Vec::new(), Vec::new());
    for item in stream {
        match item? {
            Item::Record(r) => records.push(r),
            Item::Reject(r) => rejects.push(r),
        }
    }
    Ok((records, rejects))
}

/// SHA-256 of a file, hex, read in constant memory; the ledger's checksum.
pub fn checksum(path: &std::path::Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
