-- Back to the single shared queue. Which events an index has seen cannot be told
-- from the log, so every logged event is queued again.
CREATE TABLE index_queue (
    event_id INTEGER PRIMARY KEY
);
INSERT INTO index_queue (event_id) SELECT event_id FROM index_log;
DROP TABLE index_log;
DELETE FROM store_meta WHERE key = 'store_id';
