DO $$
DECLARE
    f TEXT;
BEGIN
    FOREACH f IN ARRAY ARRAY['event_facts_from_events', 'event_facts_destroyed_of_new',
                             'event_facts_destroyed_of_old', 'event_facts_destroyed_of_changed',
                             'event_facts_has_text_of_new', 'event_facts_has_text_of_old',
                             'event_facts_has_text_of_changed'] LOOP
        EXECUTE format('ALTER FUNCTION %I() RESET plan_cache_mode', f);
    END LOOP;
END
$$;
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['aircraft', 'engines', 'flight_crew', 'injury', 'findings', 'occurrences',
                             'narratives', 'safety_recommendations', 'revisions'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS event_documents_forget_%1$s_insert ON %1$I', t);
        EXECUTE format('DROP TRIGGER IF EXISTS event_documents_forget_%1$s_update ON %1$I', t);
        EXECUTE format('DROP TRIGGER IF EXISTS event_documents_forget_%1$s_delete ON %1$I', t);
    END LOOP;
END
$$;
DROP TRIGGER IF EXISTS event_documents_forget_events_update ON events;
DROP FUNCTION IF EXISTS event_document(TEXT);
DROP TABLE IF EXISTS event_documents;
DROP FUNCTION IF EXISTS event_documents_forget_events();
DROP FUNCTION IF EXISTS event_documents_forget_changed();
DROP FUNCTION IF EXISTS event_documents_forget_old();
DROP FUNCTION IF EXISTS event_documents_forget_new();
