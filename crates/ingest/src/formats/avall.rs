//! TODO(in progress this session): reader not written yet.
use std::path::Path;
use crate::{Error, Result, RecordStream};
use crate::AvallTable;
/// Opens the reader.
pub fn open(path: &Path, _table: AvallTable) -> Result<Box<dyn RecordStream>> { Err(Error::Tool { path: path.display().to_string(), reason: "reader not implemented yet".into() }) }
