-- Where followers of outside streams are (issue 22, Kafka): `stream_cursors`
-- holds one position per stream and partition, written in the same transaction
-- as what it stands for (a consumer's next offset with the records it applied;
-- a publisher's last published change `seq` once the broker acknowledged it),
-- so a restart resumes exactly there. `leases` lets one process of many do a
-- job (the Kafka publisher of `ntsb serve`): a lease is held by `holder` until
-- `expires_at` (Unix milliseconds of the caller's clock) unless renewed; any
-- process takes it once it has expired.
CREATE TABLE stream_cursors (
    stream     TEXT NOT NULL,
    part       BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (stream, part)
);
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
