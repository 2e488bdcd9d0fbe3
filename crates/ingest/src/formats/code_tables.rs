//! TODO(in progress this session): reader not written yet.
use crate::CodeTableKind;
use crate::{Error, RecordStream, Result};
use std::path::Path;
/// Opens the reader.
pub fn open(path: &Path, _kind: CodeTableKind) -> Result<Box<dyn RecordStream>> {
    Err(Error::Tool { path: path.display().to_string(), reason: "reader not implemented yet".into() })
}
