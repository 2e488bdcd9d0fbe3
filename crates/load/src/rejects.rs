//! The rejects report: one CSV row per refused record, so a user can see every
//! line that did not load and why.

use std::path::{Path, PathBuf};

use ntsb_model::records::Reject;

use crate::error::{Error, Result};

/// Appends rejects to a CSV report, creating it with a header on first use.
pub(crate) struct RejectsReport {
    path: PathBuf,
    writer: Option<csv::Writer<std::fs::File>>,
    pub(crate) written: u64,
}

impl RejectsReport {
    pub(crate) fn new(path: PathBuf) -> Self {
        RejectsReport { path, writer: None, written: 0 }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn write(&mut self, rejects: &[Reject]) -> Result<()> {
        if rejects.is_empty() {
            return Ok(());
        }
        let fail =
            |e: &dyn std::fmt::Display| Error::Report { path: self.path.display().to_string(), reason: e.to_string() };
        if self.writer.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
            }
            let mut w = csv::Writer::from_path(&self.path).map_err(|e| fail(&e))?;
            w.write_record(["file", "line", "table", "field", "reason"]).map_err(|e| fail(&e))?;
            self.writer = Some(w);
        }
        if let Some(w) = self.writer.as_mut() {
            for r in rejects {
                let line = r.line.to_string();
                let row = [
                    r.file.as_str(),
                    line.as_str(),
                    r.table.as_deref().unwrap_or(""),
                    r.field.as_deref().unwrap_or(""),
                    &r.reason,
                ];
                w.write_record(row)
                    .map_err(|e| Error::Report { path: self.path.display().to_string(), reason: e.to_string() })?;
            }
            w.flush().map_err(|e| Error::Report { path: self.path.display().to_string(), reason: e.to_string() })?;
        }
        self.written += rejects.len() as u64;
        Ok(())
    }
}
