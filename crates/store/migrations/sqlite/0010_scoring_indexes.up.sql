-- Scoring a stored event (POST /api/v1/ml/predict and /predict/batch) reads the
-- event's facts, its aircraft, its pilots' ages and their total hours
-- (crates/store/src/training.rs, `sql`). Each of those reads was an index seek
-- followed by a seek into the table for the columns the index did not hold; these
-- indexes hold every column the statements read, so each read is one index seek
-- (SQLite: "USING COVERING INDEX"), kept current by SQLite itself on every write.
-- Measured: server CPU per batch of 100 stored ids −10 to −14% (docs/PERFORMANCE.md,
-- "A seventh machine"). SQLite reads `events` through `events_scoring` because
-- crates/store/src/sqlite/training.rs names it (`INDEXED BY`).
-- The column lists follow `sql::EVENTS`, `sql::AIRCRAFT`, `sql::PILOTS` and
-- `sql::HOURS`; a test fails when a statement stops being covered.
CREATE INDEX events_scoring ON events (ev_id, event_type, event_date, state, country, latitude, longitude,
    airport_code, light_condition, weather, phase, highest_injury, inj_fatal, inj_serious, inj_minor, inj_none,
    airport_name);
CREATE INDEX aircraft_scoring ON aircraft (event_id, aircraft_key, make, model, category, amateur_built,
    num_engines, engine_type, far_part, schedule, purpose, damage, phase);
CREATE INDEX flight_crew_scoring ON flight_crew (event_id, crew_category, aircraft_key, crew_no, crew_age);
CREATE INDEX flight_time_scoring ON flight_time (event_id, flight_type, flight_craft, aircraft_key, crew_no,
    flight_hours);
