//! The index schema and the small version file that guards it.
//!
//! Tantivy stores its own schema in `meta.json`, but a schema change in this
//! program (a new field, another analyzer) would otherwise surface as confusing
//! query errors or silently missing results. So the index directory also holds
//! [`VERSION_FILE`] with [`SCHEMA_VERSION`]; any other value makes
//! [`crate::SearchIndex::open_or_create`] refuse and ask for a rebuild.

use std::path::Path;

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::error::{Error, Result};

/// Version of the schema below. Bump it whenever the fields or analyzers change.
pub const SCHEMA_VERSION: u32 = 1;

/// Name of the version file kept beside tantivy's files.
pub const VERSION_FILE: &str = "ntsb-index-version";

/// Tantivy's own metadata file: its presence means "an index lives here".
pub(crate) const TANTIVY_META: &str = "meta.json";

/// Analyzer of both text fields: tantivy's built-in English stemmer
/// (simple tokenizer, long-token removal, lower-casing, Porter stemming).
pub(crate) const ANALYZER: &str = "en_stem";

/// Handles of every field, resolved once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// Store's internal event id: the document key (indexed for deletes, fast for ids).
    pub event_id: Field,
    /// NTSB event id.
    pub ev_id: Field,
    /// NTSB case number.
    pub ntsb_no: Field,
    /// ISO event date.
    pub event_date: Field,
    /// Year of the event, for range filters.
    pub year: Field,
    /// Narrative text.
    pub narrative: Field,
    /// Probable cause text.
    pub probable_cause: Field,
}

/// Builds the schema this program writes and reads.
pub(crate) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        event_id: b.add_u64_field("event_id", INDEXED | FAST | STORED),
        ev_id: b.add_text_field("ev_id", STRING | STORED),
        ntsb_no: b.add_text_field("ntsb_no", STRING | STORED),
        event_date: b.add_text_field("event_date", STRING | STORED),
        year: b.add_i64_field("year", INDEXED | FAST),
        narrative: b.add_text_field("narrative", text.clone()),
        probable_cause: b.add_text_field("probable_cause", text),
    };
    (b.build(), fields)
}

/// Reads the version file; `Ok(None)` when it does not exist.
pub(crate) fn read_version(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(VERSION_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Writes the version file for a freshly created index.
pub(crate) fn write_version(dir: &Path) -> Result<()> {
    let path = dir.join(VERSION_FILE);
    std::fs::write(&path, format!("{SCHEMA_VERSION}\n")).map_err(|e| Error::io(path, e))
}
