-- The index queue becomes a change log that any number of full-text indexes
-- follow (one per API replica, each in its own directory): an event whose
-- searchable text changed has one row, and `seq` orders the changes (a change
-- moves the row to the end). An index remembers the `seq` of the last change it
-- committed and asks for those after it; readers never take anything off the log.
CREATE TABLE index_log (
    seq      INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL UNIQUE
);
-- Every event with text, and every event the old queue still held (its text may
-- be gone, which removes its document).
INSERT INTO index_log (event_id)
    SELECT event_id FROM index_queue UNION SELECT event_id FROM narratives ORDER BY 1;
DROP TABLE index_queue;

-- A random identity of this database's data lineage, so that caches shared by
-- several stores (a Redis used by two deployments, or by a database dropped and
-- created again) never mistake one store's answers for another's. A restore
-- starts a new lineage and draws a new one.
INSERT OR IGNORE INTO store_meta (key, value) VALUES ('store_id', lower(hex(randomblob(16))));
