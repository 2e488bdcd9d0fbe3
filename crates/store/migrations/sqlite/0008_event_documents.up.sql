-- Event detail documents: the JSON answer of GET /api/v1/events/{ev_id}, built
-- once and then served with one primary-key read instead of a dozen queries.
--
-- A document exists only while nothing it was built from has changed: every
-- insert, update or delete of the event or of one of its rows deletes it (the
-- triggers below, in the writer's own transaction), and the store builds missing
-- documents again (`Store::build_documents`, run after loads and by `ntsb serve`).
-- Until then the detail is computed from the tables, so answers are always current.
-- Derived data: not in backups (a restore empties it and it is rebuilt).
CREATE TABLE event_documents (
    event_id INTEGER PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    body     BLOB NOT NULL
);

CREATE TRIGGER event_documents_forget_events_update AFTER UPDATE ON events BEGIN
    DELETE FROM event_documents WHERE event_id IN (OLD.id, NEW.id);
END;
CREATE TRIGGER event_documents_forget_events_delete AFTER DELETE ON events BEGIN
    DELETE FROM event_documents WHERE event_id = OLD.id;
END;

CREATE TRIGGER event_documents_forget_aircraft_insert AFTER INSERT ON aircraft BEGIN
    DELETE FROM event_documents WHERE event_id = NEW.event_id;
END;
CREATE TRIGGER event_documents_forget_aircraft_update AFTER UPDATE ON aircraft BEGIN
    DELETE FROM event_documents WHERE event_id IN (OLD.event_id, NEW.event_id);
END;
CREATE TRIGGER event_documents_forget_aircraft_delete AFTER DELETE ON aircraft BEGIN
    DELETE FROM event_documents WHERE event_id = OLD.event_id;
END;

CREATE TRIGGER event_documents_forget_engines_insert AFTER INSERT ON engines BEGIN
    DELETE FROM event_documents WHERE event_id = NEW.event_id;
END;
CREATE TRIGGER event_documents_forget_engines_update AFTER UPDATE ON engines BEGIN
    DELETE FROM event_documents WHERE event_id IN (OLD.event_id, NEW.event_id);
END;
CREATE TRIGGER event_documents_forget_engines_delete AFTER DELETE ON engines BEGIN
    DELETE FROM event_documents WHERE event_id = OLD.event_id;
END;

CREATE TRIGGER event_documents_forget_flight_crew_insert AFTER INSERT ON flight_crew BEGIN
    DELETE FROM event_documents WHERE event_id = NEW.event_id;
END;
CREATE TRIGGER event_documents_forget_flight_crew_update AFTER UPDATE ON flight_crew BEGIN
    DELETE FROM event_documents WHERE event_id IN (OLD.event_id, NEW.event_id);
END;
CREATE TRIGGER event_documents_forget_flight_crew_delete AFTER DELETE ON flight_crew BEGIN
    DELETE FROM event_documents WHERE event_id = OLD.event_id;
END;

CREATE TRIGGER event_documents_forget_injury_insert AFTER INSERT ON injury BEGIN
    DELETE FROM event_documents WHERE event_id = NEW.event_id;
END;
CREATE TRIGGER event_documents_forget_injury_update AFTER UPDATE ON injury BEGIN
    DELETE FROM event_documents WHERE event_id IN (OLD.event_id, NEW.event_id);
END;
CREATE TRIGGER event_documents_forget_injury_delete AFTER DELETE ON injury BEGIN
    DELETE FROM event_documents WHERE event_id = OLD.event_id;
END;

CREATE TRIGGER event_documents_forget_findings_insert AFTER INSERT ON findings BEGIN
    DELETE FROM event_documents WHERE event_id = NEW.event_id;
END;
CREATE TRIGGER event_documents_forget_findings_update AFTER UPDATE ON findings BEGIN
    DELETE FROM event_documents WHERE event_id IN (OLD.event_id, NEW.event_id);
END;
CREATE TRIGGER event_documents_forget_findings_delete AFTER DELETE ON findings BEGIN
    DELETE FROM event_documents WHERE event_id = OLD.event_id;
END;

CREATE TRIGGER event_documents_forget_occurrences_insert AFTER INSERT ON occurrences BEGIN
    DELETE FROM event_documents WHERE event_id = NEW.event_id;
END;
CREATE TRIGGER event_documents_forget_occurrences_update AFTER UPDATE ON occurrences BEGIN
    DELETE FROM event_documents WHERE event_id IN (OLD.event_id, NEW.event_id);
END;
CREATE TRIGGER event_documents_forget_occurrences_delete AFTER DELETE ON occurrences BEGIN
    DELETE FROM event_documents WHERE event_id = OLD.event_id;
END;

CREATE TRIGGER event_documents_forget_narratives_insert AFTER INSERT ON narratives BEGIN
    DELETE FROM event_documents WHERE event_id = NEW.event_id;
END;
CREATE TRIGGER event_documents_forget_narratives_update AFTER UPDATE ON narratives BEGIN
    DELETE FROM event_documents WHERE event_id IN (OLD.event_id, NEW.event_id);
END;
CREATE TRIGGER event_documents_forget_narratives_delete AFTER DELETE ON narratives BEGIN
    DELETE FROM event_documents WHERE event_id = OLD.event_id;
END;

CREATE TRIGGER event_documents_forget_safety_recommendations_insert AFTER INSERT ON safety_recommendations BEGIN
    DELETE FROM event_documents WHERE event_id = NEW.event_id;
END;
CREATE TRIGGER event_documents_forget_safety_recommendations_update AFTER UPDATE ON safety_recommendations BEGIN
    DELETE FROM event_documents WHERE event_id IN (OLD.event_id, NEW.event_id);
END;
CREATE TRIGGER event_documents_forget_safety_recommendations_delete AFTER DELETE ON safety_recommendations BEGIN
    DELETE FROM event_documents WHERE event_id = OLD.event_id;
END;

CREATE TRIGGER event_documents_forget_revisions_insert AFTER INSERT ON revisions BEGIN
    DELETE FROM event_documents WHERE event_id = NEW.event_id;
END;
CREATE TRIGGER event_documents_forget_revisions_update AFTER UPDATE ON revisions BEGIN
    DELETE FROM event_documents WHERE event_id IN (OLD.event_id, NEW.event_id);
END;
CREATE TRIGGER event_documents_forget_revisions_delete AFTER DELETE ON revisions BEGIN
    DELETE FROM event_documents WHERE event_id = OLD.event_id;
END;
