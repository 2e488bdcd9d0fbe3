-- Event detail documents for PostgreSQL: the JSON answer of GET /api/v1/events/{ev_id},
-- built once and then served with one primary-key read instead of thirteen queries
-- (each a round trip). The same table and rule as SQLite's 0008_event_documents:
--
-- A document exists only while nothing it was built from has changed: every
-- insert, update or delete of the event or of one of its rows deletes it (the
-- triggers below, in the writer's own transaction), and the store builds missing
-- documents again (`Store::build_documents`, under the writers' advisory lock, run
-- by `ntsb serve`). Until then the detail is computed from the tables, so answers
-- are always current. Derived data: not in backups (a restore empties it).
--
-- Statement-level triggers with transition tables, like event_facts (0004): the
-- store writes children a thousand rows per statement, and one DELETE per
-- statement costs a load almost nothing while the table is empty.
CREATE TABLE event_documents (
    event_id BIGINT PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    body     BYTEA NOT NULL
);

-- The stored document of an event, by `ev_id` or else the first event with that NTSB
-- number, with the event's row id (the body is NULL when the event has no current
-- document; no row when there is no such event). A function so its plans are cached
-- (`SET plan_cache_mode = auto`): the store's connections force a custom plan per
-- execution, and planning was more than half of what PostgreSQL spent on a detail.
-- `ORDER BY e.id + 0` keeps even a generic plan on the ntsb_no index (never a walk
-- of the primary key looking for a rare number).
CREATE FUNCTION event_document(key TEXT) RETURNS TABLE (id BIGINT, body BYTEA)
LANGUAGE plpgsql STABLE SET plan_cache_mode = auto AS $$
DECLARE
    found BIGINT;
BEGIN
    SELECT e.id INTO found FROM events e WHERE e.ev_id = key;
    IF found IS NULL THEN
        SELECT e.id INTO found FROM events e WHERE e.ntsb_no = key ORDER BY e.id + 0 LIMIT 1;
    END IF;
    IF found IS NOT NULL THEN
        RETURN QUERY SELECT found, (SELECT d.body FROM event_documents d WHERE d.event_id = found);
    END IF;
END
$$;

CREATE FUNCTION event_documents_forget_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_documents d WHERE d.event_id = ANY (ARRAY(SELECT DISTINCT event_id FROM new_rows));
    RETURN NULL;
END
$$;

CREATE FUNCTION event_documents_forget_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_documents d WHERE d.event_id = ANY (ARRAY(SELECT DISTINCT event_id FROM old_rows));
    RETURN NULL;
END
$$;

CREATE FUNCTION event_documents_forget_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_documents d WHERE d.event_id = ANY (ARRAY(
        SELECT event_id FROM old_rows UNION SELECT event_id FROM new_rows));
    RETURN NULL;
END
$$;

-- `events` is keyed by `id` rather than `event_id`.
CREATE FUNCTION event_documents_forget_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_documents d WHERE d.event_id = ANY (ARRAY(SELECT DISTINCT id FROM old_rows));
    RETURN NULL;
END
$$;

CREATE TRIGGER event_documents_forget_events_update AFTER UPDATE ON events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION event_documents_forget_events();

-- Every child table the detail shows: a trigger per statement kind (PostgreSQL
-- allows transition tables on single-event triggers only); an update forgets the
-- documents of the events before and after it.
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['aircraft', 'engines', 'flight_crew', 'injury', 'findings', 'occurrences',
                             'narratives', 'safety_recommendations', 'revisions'] LOOP
        EXECUTE format('CREATE TRIGGER event_documents_forget_%1$s_insert AFTER INSERT ON %1$I '
                       'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                       'EXECUTE FUNCTION event_documents_forget_new()', t);
        EXECUTE format('CREATE TRIGGER event_documents_forget_%1$s_update AFTER UPDATE ON %1$I '
                       'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT '
                       'EXECUTE FUNCTION event_documents_forget_changed()', t);
        EXECUTE format('CREATE TRIGGER event_documents_forget_%1$s_delete AFTER DELETE ON %1$I '
                       'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
                       'EXECUTE FUNCTION event_documents_forget_old()', t);
    END LOOP;
END
$$;

-- Planning, not executing, was most of what these triggers cost a load: the store's
-- connections set `plan_cache_mode = force_custom_plan` (for its own lookups), which
-- makes PL/pgSQL re-plan every statement of a trigger on every call. Their statements
-- have no parameters, so a cached plan is as good; let the trigger functions keep one.
DO $$
DECLARE
    f TEXT;
BEGIN
    FOREACH f IN ARRAY ARRAY['event_facts_from_events', 'event_facts_destroyed_of_new',
                             'event_facts_destroyed_of_old', 'event_facts_destroyed_of_changed',
                             'event_facts_has_text_of_new', 'event_facts_has_text_of_old',
                             'event_facts_has_text_of_changed', 'event_documents_forget_new',
                             'event_documents_forget_old', 'event_documents_forget_changed',
                             'event_documents_forget_events'] LOOP
        EXECUTE format('ALTER FUNCTION %I() SET plan_cache_mode = auto', f);
    END LOOP;
END
$$;
