-- Back to 0004: event_facts without make/model, and 0004's triggers.
DROP INDEX occurrences_code_meaning;
DROP INDEX findings_code_description;
DROP INDEX event_facts_sort_make;

DROP TRIGGER event_facts_insert;
DROP TRIGGER event_facts_update;
DROP TRIGGER event_facts_aircraft_insert;
DROP TRIGGER event_facts_aircraft_update;
DROP TRIGGER event_facts_aircraft_delete;

ALTER TABLE event_facts DROP COLUMN make;
ALTER TABLE event_facts DROP COLUMN model;

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
