-- PostgreSQL mirror of migrations/sqlite/0005_event_facts_first_aircraft.up.sql: the
-- first aircraft's make and model on `event_facts` (the row every listing shows and
-- `sort=make` orders by), kept by the (statement-level) triggers of 0004, whose
-- functions are replaced here; and finding/occurrence descriptions by code from an index.
ALTER TABLE event_facts ADD COLUMN make TEXT COLLATE "C";
ALTER TABLE event_facts ADD COLUMN model TEXT COLLATE "C";

UPDATE event_facts f SET (make, model) = (SELECT a.make, a.model FROM aircraft a WHERE a.event_id = f.id
                                          ORDER BY a.aircraft_key LIMIT 1);

CREATE OR REPLACE FUNCTION event_facts_from_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_facts (id, event_date, state, country, highest_injury, event_type, weather, phase, latitude,
                             longitude, inj_fatal, inj_serious, inj_minor, fatal, destroyed, has_text, make, model)
    SELECT n.id, n.event_date, n.state, n.country, n.highest_injury, n.event_type, n.weather, n.phase,
           n.latitude, n.longitude, coalesce(n.inj_fatal, 0), coalesce(n.inj_serious, 0), coalesce(n.inj_minor, 0),
           (coalesce(n.inj_fatal, 0) > 0 OR coalesce(n.highest_injury, '') = 'fatal')::int,
           event_facts_destroyed(n.id), event_facts_has_text(n.id), first.make, first.model
    FROM new_rows n
    LEFT JOIN LATERAL (SELECT a.make, a.model FROM aircraft a WHERE a.event_id = n.id
                       ORDER BY a.aircraft_key LIMIT 1) first ON true
    ON CONFLICT (id) DO UPDATE SET event_date = EXCLUDED.event_date, state = EXCLUDED.state,
        country = EXCLUDED.country, highest_injury = EXCLUDED.highest_injury, event_type = EXCLUDED.event_type,
        weather = EXCLUDED.weather, phase = EXCLUDED.phase, latitude = EXCLUDED.latitude,
        longitude = EXCLUDED.longitude, inj_fatal = EXCLUDED.inj_fatal, inj_serious = EXCLUDED.inj_serious,
        inj_minor = EXCLUDED.inj_minor, fatal = EXCLUDED.fatal, destroyed = EXCLUDED.destroyed,
        has_text = EXCLUDED.has_text, make = EXCLUDED.make, model = EXCLUDED.model;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION event_facts_destroyed_of_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_facts f SET destroyed = event_facts_destroyed(f.id),
        (make, model) = (SELECT a.make, a.model FROM aircraft a WHERE a.event_id = f.id ORDER BY a.aircraft_key LIMIT 1)
    WHERE f.id = ANY (ARRAY(SELECT DISTINCT event_id FROM new_rows));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION event_facts_destroyed_of_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_facts f SET destroyed = event_facts_destroyed(f.id),
        (make, model) = (SELECT a.make, a.model FROM aircraft a WHERE a.event_id = f.id ORDER BY a.aircraft_key LIMIT 1)
    WHERE f.id = ANY (ARRAY(SELECT DISTINCT event_id FROM old_rows));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION event_facts_destroyed_of_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_facts f SET destroyed = event_facts_destroyed(f.id),
        (make, model) = (SELECT a.make, a.model FROM aircraft a WHERE a.event_id = f.id ORDER BY a.aircraft_key LIMIT 1)
    WHERE f.id = ANY (ARRAY(SELECT event_id FROM old_rows UNION SELECT event_id FROM new_rows));
    RETURN NULL;
END
$$;

-- Sort key exactly as crates/store/src/postgres/query.rs writes it (keyset paging).
CREATE INDEX event_facts_sort_make ON event_facts (coalesce(make, ''));

-- min(finding_description) / min(occurrence_meaning) per code from an index alone.
CREATE INDEX findings_code_description ON findings (finding_code, finding_description);
CREATE INDEX occurrences_code_meaning ON occurrences (occurrence_code, occurrence_meaning);
