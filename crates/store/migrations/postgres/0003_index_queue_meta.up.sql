-- Events whose searchable text must be (re-)indexed. Kept in the database so a
-- crash between a load and an index commit loses nothing.
CREATE TABLE index_queue (
    event_id BIGINT PRIMARY KEY
);
-- Re-applying this migration after a rollback queues every event with text again.
INSERT INTO index_queue (event_id) SELECT DISTINCT event_id FROM narratives ON CONFLICT DO NOTHING;

-- Store-wide settings, e.g. 'content' = 'demo' | 'real'.
CREATE TABLE store_meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C"
);
-- The content kind can be inferred from the data when this migration is re-applied.
INSERT INTO store_meta (key, value)
    SELECT 'content', CASE WHEN synthetic = 1 THEN 'demo' ELSE 'real' END
    FROM events ORDER BY id LIMIT 1;

-- Indexes on the columns users filter by.
CREATE INDEX events_event_date ON events (event_date);
CREATE INDEX events_state ON events (state);
CREATE INDEX events_country ON events (country);
CREATE INDEX events_highest_injury ON events (highest_injury);
CREATE INDEX events_event_type ON events (event_type);
CREATE INDEX events_weather ON events (weather);
CREATE INDEX events_phase ON events (phase);
CREATE INDEX events_lat_lon ON events (latitude, longitude);

CREATE INDEX aircraft_make ON aircraft (make);
CREATE INDEX aircraft_model ON aircraft (model);
CREATE INDEX aircraft_category ON aircraft (category);
CREATE INDEX aircraft_far_part ON aircraft (far_part);
CREATE INDEX aircraft_damage ON aircraft (damage);
CREATE INDEX aircraft_phase ON aircraft (phase);

CREATE INDEX findings_finding_code ON findings (finding_code);
CREATE INDEX findings_cause_factor ON findings (cause_factor);

CREATE INDEX occurrences_occurrence_code ON occurrences (occurrence_code);
CREATE INDEX occurrences_phase ON occurrences (phase);
