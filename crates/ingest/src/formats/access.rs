//! TODO(in progress this session): reader not written yet.
use crate::{Error, RecordStream, Result};
use std::path::Path;
/// Opens the reader.
pub fn open(path: &Path) -> Result<Box<dyn RecordStream>> {
    Err(Error::Tool { path: path.display().to_string(), reason: "reader not implemented yet".into() })
}
/// Opens the reader.
pub fn open_zip(path: &Path) -> Result<Box<dyn RecordStream>> {
    Err(Error::Tool { path: path.display().to_string(), reason: "reader not implemented yet".into() })
}
