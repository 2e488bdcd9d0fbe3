-- Event detail documents name each source file without its directory from now
-- on (crates/store/src/sql/details.rs, `file_name`): the detail is public, the
-- server's paths are not. Documents built before are dropped here; `ntsb serve`
-- builds every missing one again in the background (answers meanwhile are
-- computed from the tables, with file names only).
DELETE FROM event_documents;
