-- Event detail documents arrived on SQLite first (its 0008_event_documents); the
-- PostgreSQL table and triggers are 0009_event_documents_postgres. This migration
-- keeps the two stores' schema versions aligned; it changes nothing.
SELECT 1;
