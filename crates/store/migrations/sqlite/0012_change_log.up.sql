-- The change feed (crates/store/src/changes.rs): one row per event a write batch
-- created, updated or deleted, numbered in commit order (writers are serialised,
-- and AUTOINCREMENT never hands out a number twice, even after rows are removed),
-- so any number of followers (feed engines, a Kafka publisher) resume after the
-- last `seq` they handled. `event_id` is not a foreign key: a deleted event keeps
-- its rows here, with the `ev_id`/`ntsb_no` it had.
CREATE TABLE change_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   INTEGER NOT NULL,
    ev_id      TEXT,
    ntsb_no    TEXT,
    kind       TEXT NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    fields     TEXT NOT NULL,
    load_id    INTEGER,
    changed_at TEXT NOT NULL
);
