-- The first aircraft's make and model on `event_facts` (the row every listing
-- shows and `sort=make` orders by), so listings no longer join the aircraft table
-- per row and sorting by make walks an index; and finding descriptions by code
-- straight from an index (statistics of top findings).
ALTER TABLE event_facts ADD COLUMN make TEXT;
ALTER TABLE event_facts ADD COLUMN model TEXT;

UPDATE event_facts SET (make, model) = (SELECT a.make, a.model FROM aircraft a WHERE a.event_id = event_facts.id
                                         ORDER BY a.aircraft_key LIMIT 1);

DROP TRIGGER event_facts_insert;
DROP TRIGGER event_facts_update;
DROP TRIGGER event_facts_aircraft_insert;
DROP TRIGGER event_facts_aircraft_update;
DROP TRIGGER event_facts_aircraft_delete;

CREATE TRIGGER event_facts_insert AFTER INSERT ON events BEGIN
    INSERT OR REPLACE INTO event_facts (id, event_date, state, country, highest_injury, event_type, weather, phase, latitude, longitude, inj_fatal, inj_serious, inj_minor, fatal, destroyed, has_text, make, model)
    SELECT NEW.id, NEW.event_date, NEW.state, NEW.country, NEW.highest_injury, NEW.event_type, NEW.weather,
        NEW.phase, NEW.latitude, NEW.longitude,
        ifnull(NEW.inj_fatal, 0), ifnull(NEW.inj_serious, 0), ifnull(NEW.inj_minor, 0),
        ifnull(NEW.inj_fatal, 0) > 0 OR ifnull(NEW.highest_injury, '') = 'fatal',
        EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = NEW.id AND +a.damage = 'destroyed'),
        EXISTS (SELECT 1 FROM narratives n WHERE n.event_id = NEW.id
                AND (n.narrative <> '' OR n.preliminary <> '' OR n.probable_cause <> '')),
        first.make, first.model
    FROM (SELECT 1) LEFT JOIN (SELECT make, model FROM aircraft WHERE event_id = NEW.id ORDER BY aircraft_key LIMIT 1) first;
END;

CREATE TRIGGER event_facts_update AFTER UPDATE ON events BEGIN
    DELETE FROM event_facts WHERE id = OLD.id AND OLD.id <> NEW.id;
    INSERT OR REPLACE INTO event_facts (id, event_date, state, country, highest_injury, event_type, weather, phase, latitude, longitude, inj_fatal, inj_serious, inj_minor, fatal, destroyed, has_text, make, model)
    SELECT NEW.id, NEW.event_date, NEW.state, NEW.country, NEW.highest_injury, NEW.event_type, NEW.weather,
        NEW.phase, NEW.latitude, NEW.longitude,
        ifnull(NEW.inj_fatal, 0), ifnull(NEW.inj_serious, 0), ifnull(NEW.inj_minor, 0),
        ifnull(NEW.inj_fatal, 0) > 0 OR ifnull(NEW.highest_injury, '') = 'fatal',
        EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = NEW.id AND +a.damage = 'destroyed'),
        EXISTS (SELECT 1 FROM narratives n WHERE n.event_id = NEW.id
                AND (n.narrative <> '' OR n.preliminary <> '' OR n.probable_cause <> '')),
        first.make, first.model
    FROM (SELECT 1) LEFT JOIN (SELECT make, model FROM aircraft WHERE event_id = NEW.id ORDER BY aircraft_key LIMIT 1) first;
END;

CREATE TRIGGER event_facts_aircraft_insert AFTER INSERT ON aircraft BEGIN
    UPDATE event_facts SET
        destroyed = EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = event_facts.id AND +a.damage = 'destroyed'),
        (make, model) = (SELECT a.make, a.model FROM aircraft a WHERE a.event_id = event_facts.id
                         ORDER BY a.aircraft_key LIMIT 1)
    WHERE id IN (NEW.event_id);
END;
CREATE TRIGGER event_facts_aircraft_update AFTER UPDATE ON aircraft BEGIN
    UPDATE event_facts SET
        destroyed = EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = event_facts.id AND +a.damage = 'destroyed'),
        (make, model) = (SELECT a.make, a.model FROM aircraft a WHERE a.event_id = event_facts.id
                         ORDER BY a.aircraft_key LIMIT 1)
    WHERE id IN (OLD.event_id, NEW.event_id);
END;
CREATE TRIGGER event_facts_aircraft_delete AFTER DELETE ON aircraft BEGIN
    UPDATE event_facts SET
        destroyed = EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = event_facts.id AND +a.damage = 'destroyed'),
        (make, model) = (SELECT a.make, a.model FROM aircraft a WHERE a.event_id = event_facts.id
                         ORDER BY a.aircraft_key LIMIT 1)
    WHERE id IN (OLD.event_id);
END;

-- Sort key exactly as crates/store/src/sqlite/query.rs writes it (keyset paging).
CREATE INDEX event_facts_sort_make ON event_facts (ifnull(make, ''));

-- min(finding_description) / min(occurrence_meaning) per code from an index alone.
CREATE INDEX findings_code_description ON findings (finding_code, finding_description);
CREATE INDEX occurrences_code_meaning ON occurrences (occurrence_code, occurrence_meaning);
