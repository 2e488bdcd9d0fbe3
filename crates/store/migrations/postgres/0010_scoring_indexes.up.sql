-- Scoring a stored event (POST /api/v1/ml/predict and /predict/batch) reads the
-- event's facts, its aircraft, its pilots' ages and their total hours
-- (crates/store/src/training.rs, `sql`). These indexes carry every column those
-- statements read (INCLUDE), so PostgreSQL can answer them with index-only scans
-- where the visibility map allows, instead of an index scan plus a heap fetch per
-- row. The same indexes as SQLite's 0010_scoring_indexes, in PostgreSQL's form.
CREATE INDEX events_scoring ON events (ev_id) INCLUDE (id, event_type, event_date, state, country, latitude,
    longitude, airport_code, light_condition, weather, phase, highest_injury, inj_fatal, inj_serious, inj_minor,
    inj_none, airport_name);
CREATE INDEX aircraft_scoring ON aircraft (event_id, aircraft_key) INCLUDE (make, model, category, amateur_built,
    num_engines, engine_type, far_part, schedule, purpose, damage, phase);
CREATE INDEX flight_crew_scoring ON flight_crew (event_id, crew_category, aircraft_key, crew_no) INCLUDE (crew_age);
CREATE INDEX flight_time_scoring ON flight_time (event_id, flight_type, flight_craft, aircraft_key, crew_no)
    INCLUDE (flight_hours);
