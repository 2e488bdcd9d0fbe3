-- Read API support (ntsb_store::Queries).
--
-- `event_facts` is a narrow copy of what every filter and statistic reads, one row
-- per event, kept exact by triggers: the wide `events` rows (dozens of columns and
-- a provenance JSON each) made full-corpus statistics scan ~100 MB. Injuries are
-- the event's own totals; `fatal`, `destroyed` (any aircraft destroyed) and
-- `has_text` (any narrative, preliminary or probable cause) are precomputed.
CREATE TABLE event_facts (
    id             INTEGER PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    event_date     TEXT,
    state          TEXT,
    country        TEXT,
    highest_injury TEXT,
    event_type     TEXT,
    weather        TEXT,
    phase          TEXT,
    latitude       REAL,
    longitude      REAL,
    inj_fatal      INTEGER NOT NULL,
    inj_serious    INTEGER NOT NULL,
    inj_minor      INTEGER NOT NULL,
    fatal          INTEGER NOT NULL,
    destroyed      INTEGER NOT NULL,
    has_text       INTEGER NOT NULL
);

INSERT INTO event_facts
SELECT id, event_date, state, country, highest_injury, event_type, weather, phase, latitude, longitude,
       ifnull(inj_fatal, 0), ifnull(inj_serious, 0), ifnull(inj_minor, 0),
       ifnull(inj_fatal, 0) > 0 OR ifnull(highest_injury, '') = 'fatal',
       EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = events.id AND +a.damage = 'destroyed'),
       EXISTS (SELECT 1 FROM narratives n WHERE n.event_id = events.id
               AND (n.narrative <> '' OR n.preliminary <> '' OR n.probable_cause <> ''))
FROM events;

CREATE TRIGGER event_facts_insert AFTER INSERT ON events BEGIN
    INSERT OR REPLACE INTO event_facts VALUES (NEW.id, NEW.event_date, NEW.state, NEW.country, NEW.highest_injury,
        NEW.event_type, NEW.weather, NEW.phase, NEW.latitude, NEW.longitude,
        ifnull(NEW.inj_fatal, 0), ifnull(NEW.inj_serious, 0), ifnull(NEW.inj_minor, 0),
        ifnull(NEW.inj_fatal, 0) > 0 OR ifnull(NEW.highest_injury, '') = 'fatal',
        EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = NEW.id AND +a.damage = 'destroyed'),
        EXISTS (SELECT 1 FROM narratives n WHERE n.event_id = NEW.id
                AND (n.narrative <> '' OR n.preliminary <> '' OR n.probable_cause <> '')));
END;

CREATE TRIGGER event_facts_update AFTER UPDATE ON events BEGIN
    DELETE FROM event_facts WHERE id = OLD.id AND OLD.id <> NEW.id;
    INSERT OR REPLACE INTO event_facts VALUES (NEW.id, NEW.event_date, NEW.state, NEW.country, NEW.highest_injury,
        NEW.event_type, NEW.weather, NEW.phase, NEW.latitude, NEW.longitude,
        ifnull(NEW.inj_fatal, 0), ifnull(NEW.inj_serious, 0), ifnull(NEW.inj_minor, 0),
        ifnull(NEW.inj_fatal, 0) > 0 OR ifnull(NEW.highest_injury, '') = 'fatal',
        EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = NEW.id AND +a.damage = 'destroyed'),
        EXISTS (SELECT 1 FROM narratives n WHERE n.event_id = NEW.id
                AND (n.narrative <> '' OR n.preliminary <> '' OR n.probable_cause <> '')));
END;

CREATE TRIGGER event_facts_aircraft_insert AFTER INSERT ON aircraft BEGIN
    UPDATE event_facts SET destroyed = EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = NEW.event_id
        AND +a.damage = 'destroyed') WHERE id = NEW.event_id;
END;
CREATE TRIGGER event_facts_aircraft_update AFTER UPDATE ON aircraft BEGIN
    UPDATE event_facts SET destroyed = EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = event_facts.id
        AND +a.damage = 'destroyed') WHERE id IN (OLD.event_id, NEW.event_id);
END;
CREATE TRIGGER event_facts_aircraft_delete AFTER DELETE ON aircraft BEGIN
    UPDATE event_facts SET destroyed = EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = OLD.event_id
        AND +a.damage = 'destroyed') WHERE id = OLD.event_id;
END;

CREATE TRIGGER event_facts_narrative_insert AFTER INSERT ON narratives BEGIN
    UPDATE event_facts SET has_text = EXISTS (SELECT 1 FROM narratives n WHERE n.event_id = NEW.event_id
        AND (n.narrative <> '' OR n.preliminary <> '' OR n.probable_cause <> '')) WHERE id = NEW.event_id;
END;
CREATE TRIGGER event_facts_narrative_update AFTER UPDATE ON narratives BEGIN
    UPDATE event_facts SET has_text = EXISTS (SELECT 1 FROM narratives n WHERE n.event_id = event_facts.id
        AND (n.narrative <> '' OR n.preliminary <> '' OR n.probable_cause <> '')) WHERE id IN (OLD.event_id, NEW.event_id);
END;
CREATE TRIGGER event_facts_narrative_delete AFTER DELETE ON narratives BEGIN
    UPDATE event_facts SET has_text = EXISTS (SELECT 1 FROM narratives n WHERE n.event_id = OLD.event_id
        AND (n.narrative <> '' OR n.preliminary <> '' OR n.probable_cause <> '')) WHERE id = OLD.event_id;
END;

-- Sort keys exactly as crates/store/src/sqlite/query.rs writes them (keyset paging).
CREATE INDEX event_facts_sort_date ON event_facts (ifnull(event_date, ''));
CREATE INDEX event_facts_sort_fatal ON event_facts (inj_fatal);
CREATE INDEX event_facts_sort_state ON event_facts (ifnull(state, ''));
CREATE INDEX event_facts_date ON event_facts (event_date);
CREATE INDEX event_facts_state ON event_facts (state);
CREATE INDEX event_facts_lat_lon ON event_facts (latitude, longitude);

-- Aircraft-level filters and breakdowns, from the index alone.
CREATE INDEX aircraft_event_make_model ON aircraft (event_id, make, model);
CREATE INDEX aircraft_event_far_part ON aircraft (event_id, far_part);

-- Top findings / occurrences grouped by code.
CREATE INDEX findings_code_event ON findings (finding_code, event_id, cause_factor);
CREATE INDEX occurrences_code_event ON occurrences (occurrence_code, event_id, defining_event);
