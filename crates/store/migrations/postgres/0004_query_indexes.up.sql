-- Read API support (ntsb_store::Queries). PostgreSQL mirror of
-- migrations/sqlite/0004_query_indexes.up.sql.
--
-- `event_facts` is a narrow copy of what every filter and statistic reads, one row
-- per event, kept exact by triggers. Injuries are the event's own totals; `fatal`,
-- `destroyed` (any aircraft destroyed) and `has_text` (any narrative, preliminary or
-- probable cause) are precomputed as 0/1 like in SQLite.
CREATE TABLE event_facts (
    id             BIGINT PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    event_date     TEXT COLLATE "C",
    state          TEXT COLLATE "C",
    country        TEXT COLLATE "C",
    highest_injury TEXT COLLATE "C",
    event_type     TEXT COLLATE "C",
    weather        TEXT COLLATE "C",
    phase          TEXT COLLATE "C",
    latitude       DOUBLE PRECISION,
    longitude      DOUBLE PRECISION,
    inj_fatal      BIGINT NOT NULL,
    inj_serious    BIGINT NOT NULL,
    inj_minor      BIGINT NOT NULL,
    fatal          BIGINT NOT NULL,
    destroyed      BIGINT NOT NULL,
    has_text       BIGINT NOT NULL
);

-- `coalesce(a.damage, '')` keeps the planner on the (event_id, …) index: the index
-- on damage alone would scan every destroyed aircraft per event (SQLite's `+a.damage`).
CREATE FUNCTION event_facts_destroyed(ev BIGINT) RETURNS BIGINT LANGUAGE sql STABLE AS $$
    SELECT (EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = ev AND coalesce(a.damage, '') = 'destroyed'))::int::bigint
$$;

CREATE FUNCTION event_facts_has_text(ev BIGINT) RETURNS BIGINT LANGUAGE sql STABLE AS $$
    SELECT (EXISTS (SELECT 1 FROM narratives n WHERE n.event_id = ev
            AND (n.narrative <> '' OR n.preliminary <> '' OR n.probable_cause <> '')))::int::bigint
$$;

INSERT INTO event_facts
SELECT id, event_date, state, country, highest_injury, event_type, weather, phase, latitude, longitude,
       coalesce(inj_fatal, 0), coalesce(inj_serious, 0), coalesce(inj_minor, 0),
       (coalesce(inj_fatal, 0) > 0 OR coalesce(highest_injury, '') = 'fatal')::int,
       event_facts_destroyed(id), event_facts_has_text(id)
FROM events;

-- Statement-level triggers with transition tables: a multi-row INSERT or UPDATE
-- (the PostgreSQL store buffers new rows and writes a thousand at a time) updates
-- event_facts with one set-based statement instead of one per row. The result is
-- the same as SQLite's row triggers: facts are recomputed from the tables' state
-- at the end of each statement. `f.id = ANY (ARRAY(…))` keeps the update on the
-- primary key whatever the (unknown) size of the transition table: `IN (SELECT …)`
-- may be planned as a scan of every event, 10 ms per single-row statement.
CREATE FUNCTION event_facts_from_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_facts
    SELECT n.id, n.event_date, n.state, n.country, n.highest_injury, n.event_type, n.weather, n.phase,
           n.latitude, n.longitude, coalesce(n.inj_fatal, 0), coalesce(n.inj_serious, 0), coalesce(n.inj_minor, 0),
           (coalesce(n.inj_fatal, 0) > 0 OR coalesce(n.highest_injury, '') = 'fatal')::int,
           event_facts_destroyed(n.id), event_facts_has_text(n.id)
    FROM new_rows n
    ON CONFLICT (id) DO UPDATE SET event_date = EXCLUDED.event_date, state = EXCLUDED.state,
        country = EXCLUDED.country, highest_injury = EXCLUDED.highest_injury, event_type = EXCLUDED.event_type,
        weather = EXCLUDED.weather, phase = EXCLUDED.phase, latitude = EXCLUDED.latitude,
        longitude = EXCLUDED.longitude, inj_fatal = EXCLUDED.inj_fatal, inj_serious = EXCLUDED.inj_serious,
        inj_minor = EXCLUDED.inj_minor, fatal = EXCLUDED.fatal, destroyed = EXCLUDED.destroyed,
        has_text = EXCLUDED.has_text;
    RETURN NULL;
END
$$;

CREATE FUNCTION event_facts_destroyed_of_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_facts f SET destroyed = event_facts_destroyed(f.id)
    WHERE f.id = ANY (ARRAY(SELECT DISTINCT event_id FROM new_rows));
    RETURN NULL;
END
$$;

CREATE FUNCTION event_facts_destroyed_of_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_facts f SET destroyed = event_facts_destroyed(f.id)
    WHERE f.id = ANY (ARRAY(SELECT DISTINCT event_id FROM old_rows));
    RETURN NULL;
END
$$;

CREATE FUNCTION event_facts_destroyed_of_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_facts f SET destroyed = event_facts_destroyed(f.id)
    WHERE f.id = ANY (ARRAY(SELECT event_id FROM old_rows UNION SELECT event_id FROM new_rows));
    RETURN NULL;
END
$$;

CREATE FUNCTION event_facts_has_text_of_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_facts f SET has_text = event_facts_has_text(f.id)
    WHERE f.id = ANY (ARRAY(SELECT DISTINCT event_id FROM new_rows));
    RETURN NULL;
END
$$;

CREATE FUNCTION event_facts_has_text_of_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_facts f SET has_text = event_facts_has_text(f.id)
    WHERE f.id = ANY (ARRAY(SELECT DISTINCT event_id FROM old_rows));
    RETURN NULL;
END
$$;

CREATE FUNCTION event_facts_has_text_of_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_facts f SET has_text = event_facts_has_text(f.id)
    WHERE f.id = ANY (ARRAY(SELECT event_id FROM old_rows UNION SELECT event_id FROM new_rows));
    RETURN NULL;
END
$$;

CREATE TRIGGER event_facts_insert AFTER INSERT ON events REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_facts_from_events();
CREATE TRIGGER event_facts_update AFTER UPDATE ON events REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_facts_from_events();
CREATE TRIGGER event_facts_aircraft_insert AFTER INSERT ON aircraft REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_facts_destroyed_of_new();
CREATE TRIGGER event_facts_aircraft_update AFTER UPDATE ON aircraft REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_facts_destroyed_of_changed();
CREATE TRIGGER event_facts_aircraft_delete AFTER DELETE ON aircraft REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_facts_destroyed_of_old();
CREATE TRIGGER event_facts_narrative_insert AFTER INSERT ON narratives REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_facts_has_text_of_new();
CREATE TRIGGER event_facts_narrative_update AFTER UPDATE ON narratives REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_facts_has_text_of_changed();
CREATE TRIGGER event_facts_narrative_delete AFTER DELETE ON narratives REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_facts_has_text_of_old();

-- Sort keys exactly as crates/store/src/postgres/query.rs writes them (keyset paging).
CREATE INDEX event_facts_sort_date ON event_facts (coalesce(event_date, ''));
CREATE INDEX event_facts_sort_fatal ON event_facts (inj_fatal);
CREATE INDEX event_facts_sort_state ON event_facts (coalesce(state, ''));
CREATE INDEX event_facts_date ON event_facts (event_date);
CREATE INDEX event_facts_state ON event_facts (state);
CREATE INDEX event_facts_lat_lon ON event_facts (latitude, longitude);

-- Aircraft-level filters and breakdowns, from the index alone.
CREATE INDEX aircraft_event_make_model ON aircraft (event_id, make, model);
CREATE INDEX aircraft_event_far_part ON aircraft (event_id, far_part);

-- Top findings / occurrences grouped by code.
CREATE INDEX findings_code_event ON findings (finding_code, event_id, cause_factor);
CREATE INDEX occurrences_code_event ON occurrences (occurrence_code, event_id, defining_event);
