-- PostgreSQL's event detail documents (its 0009_event_documents_postgres). SQLite has
-- kept them since 0008; this migration keeps the two stores' schema versions
-- aligned and changes nothing.
SELECT 1;
