-- Load ledger: one row per source file loaded, with totals per table, the records
-- refused, and every field change (revision history).

CREATE TABLE loads (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL,
    format      TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,
    inserted    INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER
);

CREATE TABLE load_counts (
    load_id    INTEGER NOT NULL REFERENCES loads (id) ON DELETE CASCADE,
    table_name TEXT NOT NULL,
    inserted   INTEGER NOT NULL DEFAULT 0,
    updated    INTEGER NOT NULL DEFAULT 0,
    unchanged  INTEGER NOT NULL DEFAULT 0,
    rejected   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (load_id, table_name)
);

CREATE TABLE rejects (
    id         INTEGER PRIMARY KEY,
    load_id    INTEGER NOT NULL,
    file       TEXT NOT NULL,
    line       INTEGER NOT NULL,
    field      TEXT,
    reason     TEXT NOT NULL,
    table_name TEXT
);
CREATE INDEX rejects_load ON rejects (load_id, file, line);

-- event_id is the store's events.id (NULL for root tables such as code_entries).
CREATE TABLE revisions (
    id         INTEGER PRIMARY KEY,
    load_id    INTEGER NOT NULL,
    event_id   INTEGER,
    table_name TEXT NOT NULL,
    row_key    TEXT NOT NULL,
    field      TEXT NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    changed_at TEXT NOT NULL
);
CREATE INDEX revisions_event ON revisions (event_id);
