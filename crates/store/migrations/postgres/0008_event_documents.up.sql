-- Event detail documents are materialised by the SQLite store only (its
-- 0008_event_documents): the PostgreSQL store computes every detail from its
-- tables, which gives the same answers. This migration keeps the two stores'
-- schema versions aligned; it changes nothing.
SELECT 1;
