DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['aircraft', 'engines', 'flight_crew', 'injury', 'findings', 'occurrences',
                             'narratives', 'safety_recommendations', 'revisions'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS event_documents_forget_%1$s_insert ON %1$I', t);
        EXECUTE format('DROP TRIGGER IF EXISTS event_documents_forget_%1$s_update_old ON %1$I', t);
        EXECUTE format('DROP TRIGGER IF EXISTS event_documents_forget_%1$s_update_new ON %1$I', t);
        EXECUTE format('DROP TRIGGER IF EXISTS event_documents_forget_%1$s_delete ON %1$I', t);
    END LOOP;
END
$$;
DROP TRIGGER IF EXISTS event_documents_forget_events_update ON events;
DROP TABLE IF EXISTS event_documents;
DROP FUNCTION IF EXISTS event_documents_forget_events();
DROP FUNCTION IF EXISTS event_documents_forget_old();
DROP FUNCTION IF EXISTS event_documents_forget_new();
