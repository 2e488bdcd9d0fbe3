-- Load ledger: one row per source file loaded, with totals per table, the records
-- refused, and every field change (revision history).

CREATE TABLE loads (
    id          BIGSERIAL PRIMARY KEY,
    path        TEXT COLLATE "C" NOT NULL,
    format      TEXT COLLATE "C" NOT NULL,
    checksum    TEXT COLLATE "C" NOT NULL,
    bytes       BIGINT NOT NULL,
    started_at  TEXT COLLATE "C" NOT NULL,
    finished_at TEXT COLLATE "C",
    status      TEXT COLLATE "C" NOT NULL,
    inserted    BIGINT NOT NULL DEFAULT 0,
    updated     BIGINT NOT NULL DEFAULT 0,
    unchanged   BIGINT NOT NULL DEFAULT 0,
    rejected    BIGINT NOT NULL DEFAULT 0,
    duration_ms BIGINT
);

CREATE TABLE load_counts (
    load_id    BIGINT NOT NULL REFERENCES loads (id) ON DELETE CASCADE,
    table_name TEXT COLLATE "C" NOT NULL,
    inserted   BIGINT NOT NULL DEFAULT 0,
    updated    BIGINT NOT NULL DEFAULT 0,
    unchanged  BIGINT NOT NULL DEFAULT 0,
    rejected   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (load_id, table_name)
);

CREATE TABLE rejects (
    id         BIGSERIAL PRIMARY KEY,
    load_id    BIGINT NOT NULL,
    file       TEXT COLLATE "C" NOT NULL,
    line       BIGINT NOT NULL,
    field      TEXT COLLATE "C",
    reason     TEXT COLLATE "C" NOT NULL,
    table_name TEXT COLLATE "C"
);
CREATE INDEX rejects_load ON rejects (load_id, file, line);

-- event_id is the store's events.id (NULL for root tables such as code_entries).
CREATE TABLE revisions (
    id         BIGSERIAL PRIMARY KEY,
    load_id    BIGINT NOT NULL,
    event_id   BIGINT,
    table_name TEXT COLLATE "C" NOT NULL,
    row_key    TEXT COLLATE "C" NOT NULL,
    field      TEXT COLLATE "C" NOT NULL,
    old_value  TEXT COLLATE "C",
    new_value  TEXT COLLATE "C",
    changed_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX revisions_event ON revisions (event_id);
