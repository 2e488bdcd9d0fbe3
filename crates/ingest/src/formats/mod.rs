//! One reader per source format. [`open`] picks the reader for a detected file.

pub mod access;
pub mod avall;
pub mod aviation_data;
pub mod carol;
pub mod code_tables;
pub mod crosswalk;
pub mod narratives;
pub mod reports;
pub mod safety_recs;

use crate::RecordStream;
use crate::detect::{Detected, Format};
use crate::error::Result;

/// Opens the reader for a recognised file.
pub fn open(detected: &Detected) -> Result<Box<dyn RecordStream>> {
    let path = &detected.path;
    match detected.format {
        Format::Access => access::open(path),
        Format::AccessZip => access::open_zip(path),
        Format::Avall(table) => avall::open(path, table),
        Format::AviationData => aviation_data::open(path),
        Format::CarolCsv => carol::open_csv(path),
        Format::CarolJson => carol::open_json(path),
        Format::NarrativeJsonl => narratives::open(path),
        Format::SafetyRecs => safety_recs::open(path),
        Format::Crosswalk => crosswalk::open(path),
        Format::ReportsIndex => reports::open(path),
        Format::CodeTable(kind) => code_tables::open(path, kind),
    }
}
