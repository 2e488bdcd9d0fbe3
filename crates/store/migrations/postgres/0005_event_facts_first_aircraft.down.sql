-- Back to 0004: event_facts without make/model, and 0004's trigger functions.
DROP INDEX IF EXISTS occurrences_code_meaning;
DROP INDEX IF EXISTS findings_code_description;
DROP INDEX IF EXISTS event_facts_sort_make;

CREATE OR REPLACE FUNCTION event_facts_from_events() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION event_facts_destroyed_of_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_facts f SET destroyed = event_facts_destroyed(f.id)
    WHERE f.id = ANY (ARRAY(SELECT DISTINCT event_id FROM new_rows));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION event_facts_destroyed_of_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_facts f SET destroyed = event_facts_destroyed(f.id)
    WHERE f.id = ANY (ARRAY(SELECT DISTINCT event_id FROM old_rows));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION event_facts_destroyed_of_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_facts f SET destroyed = event_facts_destroyed(f.id)
    WHERE f.id = ANY (ARRAY(SELECT event_id FROM old_rows UNION SELECT event_id FROM new_rows));
    RETURN NULL;
END
$$;

ALTER TABLE event_facts DROP COLUMN make;
ALTER TABLE event_facts DROP COLUMN model;
